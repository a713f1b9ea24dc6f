"""What the emulator saw and did, for tests and benchmarks. Thread-safe.

Times are recorded twice: ``time.monotonic()`` (CLOCK_MONOTONIC, shared by every process on the machine,
so a benchmark in another process can subtract its own readings) and wall-clock epoch seconds.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


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
class Stats:
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    requests_total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    _by_interaction: dict[str, Counter[str]] = field(default_factory=dict)
    _cancels: list[CancelRecord] = field(default_factory=list)
    _completions: dict[str, CompletionRecord] = field(default_factory=dict)

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
                "now_monotonic": time.monotonic(),
                "now_wall_time": time.time(),
            }
