"""What the emulator saw and did, for tests and benchmarks. Thread-safe.

Times are recorded twice: ``time.monotonic()`` (CLOCK_MONOTONIC, shared by every process on the machine,
so a benchmark in another process can subtract its own readings) and wall-clock epoch seconds.

Every API request that names an interaction is also kept as an :class:`UpstreamRequest` with the replica
that sent it (the ``x-gemini-interactions-replica`` header) and when it started and ended; a streamed
response ends when the stream does (finished, cut, or the client went away). Two replicas streaming one
interaction at the same time show up in :meth:`Stats.replica_overlaps`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any

REPLICA_HEADER = "x-gemini-interactions-replica"


@dataclass(frozen=True)
class CancelRecord:
    interaction_id: str
    status_before: str
    monotonic: float
    wall_time: float


@dataclass(frozen=True)
class CompletionRecord:
    """When a job reached its final status (``completed``, ``failed``, ``cancelled``)."""

    interaction_id: str
    status: str
    background: bool
    kind: str  # text | image | research
    started_monotonic: float
    monotonic: float
    wall_time: float

    @property
    def duration(self) -> float:
        return self.monotonic - self.started_monotonic


@dataclass
class UpstreamRequest:
    """One API request naming an interaction, and the replica that sent it (None: no replica header)."""

    interaction_id: str
    kind: str  # create | get | stream | cancel | delete
    replica: str | None
    streamed: bool
    started_monotonic: float
    wall_time: float
    ended_monotonic: float | None = None  # None while the response (a stream) is still open

    @property
    def open(self) -> bool:
        return self.ended_monotonic is None

    def overlaps(self, other: UpstreamRequest, now: float | None = None) -> bool:
        """True when both were open at some instant (an open one counts as open until ``now``)."""
        end = now if now is not None else time.monotonic()
        mine = self.ended_monotonic if self.ended_monotonic is not None else end
        theirs = other.ended_monotonic if other.ended_monotonic is not None else end
        return self.started_monotonic < theirs and other.started_monotonic < mine


@dataclass
class Stats:
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    requests_total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    _by_interaction: dict[str, Counter[str]] = field(default_factory=dict)
    _cancels: list[CancelRecord] = field(default_factory=list)
    _completions: dict[str, CompletionRecord] = field(default_factory=dict)
    _upstream: dict[str, list[UpstreamRequest]] = field(default_factory=dict)

    # -- recording -------------------------------------------------------------------------------------
    def record_request(self, kind: str, interaction_id: str | None = None) -> None:
        with self._lock:
            self.requests_total += 1
            self.by_kind[kind] += 1
            if interaction_id is not None:
                self._by_interaction.setdefault(interaction_id, Counter())[kind] += 1

    def attribute(self, interaction_id: str, kind: str) -> None:
        """Count a request for an id learnt only after the request was counted (a create)."""
        with self._lock:
            self._by_interaction.setdefault(interaction_id, Counter())[kind] += 1

    def begin_request(
        self, interaction_id: str, kind: str, replica: str | None, *, streamed: bool = False
    ) -> UpstreamRequest:
        """Keep a request naming ``interaction_id``; pass the result to :meth:`end_request` when answered."""
        record = UpstreamRequest(interaction_id, kind, replica, streamed, time.monotonic(), time.time())
        with self._lock:
            self._upstream.setdefault(interaction_id, []).append(record)
        return record

    def end_request(self, record: UpstreamRequest) -> None:
        with self._lock:
            if record.ended_monotonic is None:
                record.ended_monotonic = time.monotonic()

    def record_status(self, code: int) -> None:
        with self._lock:
            self.by_status[code] += 1

    def record_cancel(self, interaction_id: str, status_before: str) -> None:
        with self._lock:
            self._cancels.append(CancelRecord(interaction_id, status_before, time.monotonic(), time.time()))

    def record_completion(self, record: CompletionRecord) -> None:
        with self._lock:
            self._completions.setdefault(record.interaction_id, record)

    def reset(self) -> None:
        with self._lock:
            self.requests_total = 0
            self.by_kind.clear()
            self.by_status.clear()
            self._by_interaction.clear()
            self._cancels.clear()
            self._completions.clear()
            self._upstream.clear()

    # -- reading ---------------------------------------------------------------------------------------
    def requests_for(self, interaction_id: str) -> dict[str, int]:
        """Requests per kind (create/get/stream/cancel/delete) that named this interaction."""
        with self._lock:
            return dict(self._by_interaction.get(interaction_id, {}))

    @property
    def cancels(self) -> list[CancelRecord]:
        with self._lock:
            return list(self._cancels)

    def cancelled_ids(self) -> list[str]:
        return [c.interaction_id for c in self.cancels]

    def completion(self, interaction_id: str) -> CompletionRecord | None:
        with self._lock:
            return self._completions.get(interaction_id)

    @property
    def completions(self) -> dict[str, CompletionRecord]:
        with self._lock:
            return dict(self._completions)

    def upstream_requests(self, interaction_id: str) -> list[UpstreamRequest]:
        """Every request that named this interaction, oldest first (copies)."""
        with self._lock:
            return [replace(r) for r in self._upstream.get(interaction_id, ())]

    def replicas_for(self, interaction_id: str) -> list[str | None]:
        """The replicas that sent requests naming this interaction, in order of their first request."""
        return list(dict.fromkeys(r.replica for r in self.upstream_requests(interaction_id)))

    def replica_overlaps(
        self, interaction_id: str | None = None
    ) -> list[tuple[UpstreamRequest, UpstreamRequest]]:
        """Pairs of streams of one interaction, from two different replicas, that were open at the same time.

        Empty when every job was watched by one replica at a time. ``interaction_id=None`` checks them all.
        """
        now = time.monotonic()
        with self._lock:
            ids = [interaction_id] if interaction_id is not None else list(self._upstream)
            streams = {i: [replace(r) for r in self._upstream.get(i, ()) if r.streamed] for i in ids}
        found = []
        for records in streams.values():
            for n, first in enumerate(records):
                for second in records[n + 1 :]:
                    if first.replica != second.replica and first.overlaps(second, now):
                        found.append((first, second))
        return found

    def snapshot(self) -> dict[str, Any]:
        """Everything as JSON-ready data (what ``GET /_emulator/stats`` returns)."""
        with self._lock:
            completions = {}
            for key, rec in self._completions.items():
                completions[key] = asdict(rec) | {"duration": rec.duration}
            return {
                "requests_total": self.requests_total,
                "by_kind": dict(self.by_kind),
                "by_status": {str(k): v for k, v in self.by_status.items()},
                "by_interaction": {k: dict(v) for k, v in self._by_interaction.items()},
                "cancels": [asdict(c) for c in self._cancels],
                "completions": completions,
                "upstream_requests": {
                    key: [asdict(r) for r in records] for key, records in self._upstream.items()
                },
                "now_monotonic": time.monotonic(),
                "now_wall_time": time.time(),
            }
