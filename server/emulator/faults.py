"""Fault switches a test flips to make the emulator misbehave like the real service sometimes does.

Every switch is a :class:`FaultRule` consumed by matching requests (``count`` of them; ``None`` = until
cleared), plus two job-level switches: stuck jobs and a transient 404 after create. All methods are
thread-safe: a test thread may flip switches while the emulator serves from its own event loop.

Request kinds a rule may be limited to (``kind=None`` matches every API request):

=========  ====================================================================
create     ``POST …/interactions`` (streamed or not)
get        ``GET …/interactions/{id}`` without ``stream=true``
stream     any streamed response: ``create`` with ``stream: true`` or ``GET …?stream=true``
resume     ``GET …?stream=true&last_event_id=…`` only
cancel     ``POST …/interactions/{id}/cancel`` (or ``:cancel``)
delete     ``DELETE …/interactions/{id}``
=========  ====================================================================

Actions: ``status`` (answer with an error envelope, with an ErrorInfo ``reason`` when given; 429 carries
``retry-after``), ``delay`` (answer late),
``hang`` (never answer), ``malformed_json`` (200 with a truncated JSON body), ``reset`` (abort the TCP
connection), ``cut_stream`` (after ``after_events`` events write the bare 503 text the real service
writes at its 10-minute cut and close, while the job keeps running) and ``hang_stream`` (send
``after_events`` events, then hold the connection open without sending).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = Literal["status", "delay", "hang", "malformed_json", "reset", "cut_stream", "hang_stream"]
REQUEST_ACTIONS: frozenset[str] = frozenset({"status", "delay", "hang", "malformed_json", "reset"})
STREAM_ACTIONS: frozenset[str] = frozenset({"cut_stream", "hang_stream"})
KINDS: frozenset[str] = frozenset({"create", "get", "stream", "resume", "cancel", "delete"})


@dataclass(frozen=True)
class RequestInfo:
    """What a fault rule is matched against."""

    kind: str  # create | get | stream | cancel | delete (the stats kind)
    streaming: bool = False
    resumed: bool = False
    interaction_id: str | None = None


@dataclass
class FaultRule:
    action: Action
    count: int | None = 1
    kind: str | None = None
    status: int = 503
    message: str | None = None
    reason: str | None = None  # a google.rpc.ErrorInfo reason in the envelope's details (status faults)
    retry_after: float | None = None
    seconds: float = 0.0
    after_events: int = 0
    interaction_id: str | None = None
    skip: int = 0  # let this many matching requests through first
    fired: int = 0

    def __post_init__(self) -> None:
        if self.action not in REQUEST_ACTIONS | STREAM_ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}")
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"unknown request kind {self.kind!r}; use one of {sorted(KINDS)}")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0 or None")

    def matches(self, info: RequestInfo) -> bool:
        if self.interaction_id is not None and self.interaction_id != info.interaction_id:
            return False
        match self.kind:
            case None:
                return True
            case "stream":
                return info.streaming
            case "resume":
                return info.resumed
            case "get":
                return info.kind == "get"
            case other:
                return info.kind == other

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Faults:
    """The switches. Use the helper methods, or :meth:`add` with a :class:`FaultRule`."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _rules: list[FaultRule] = field(default_factory=list)
    _stuck_jobs: int | None = 0
    _transient_404_seconds: float = 0.0
    fired: Counter[str] = field(default_factory=Counter)

    # -- helpers -----------------------------------------------------------------------------------
    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def rate_limit(
        self, count: int | None = 1, *, kind: str | None = None, retry_after: float | None = None
    ) -> FaultRule:
        """429 RESOURCE_EXHAUSTED with ``retry-after`` (default: the config's ``retry_after_seconds``)."""
        return self.add(FaultRule("status", count, kind, status=429, retry_after=retry_after))

    def error(
        self,
        status: int,
        count: int | None = 1,
        *,
        kind: str | None = None,
        reason: str | None = None,
        message: str | None = None,
        skip: int = 0,
    ) -> FaultRule:
        """Any error envelope: ``status``, Google's ``message`` and an ErrorInfo ``reason`` in ``details``
        (after letting ``skip`` matching requests through)."""
        return self.add(
            FaultRule("status", count, kind, status=status, message=message, reason=reason, skip=skip)
        )

    def server_error(self, status: int = 500, count: int | None = 1, *, kind: str | None = None) -> FaultRule:
        """5xx (500 INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED …) or any other status."""
        return self.add(FaultRule("status", count, kind, status=status))

    def delay(self, seconds: float, count: int | None = 1, *, kind: str | None = None) -> FaultRule:
        return self.add(FaultRule("delay", count, kind, seconds=seconds))

    def hang(self, count: int | None = 1, *, kind: str | None = None) -> FaultRule:
        return self.add(FaultRule("hang", count, kind))

    def malformed_json(self, count: int | None = 1, *, kind: str | None = None) -> FaultRule:
        return self.add(FaultRule("malformed_json", count, kind))

    def reset_connection(self, count: int | None = 1, *, kind: str | None = None) -> FaultRule:
        return self.add(FaultRule("reset", count, kind))

    def cut_stream(
        self, after_events: int = 3, count: int | None = 1, *, kind: str | None = "stream"
    ) -> FaultRule:
        return self.add(FaultRule("cut_stream", count, kind, after_events=after_events))

    def hang_stream(
        self, after_events: int = 2, count: int | None = 1, *, kind: str | None = "resume"
    ) -> FaultRule:
        return self.add(FaultRule("hang_stream", count, kind, after_events=after_events))

    def stick_jobs(self, count: int | None = 1) -> None:
        """The next ``count`` background jobs (None: every one until cleared) stay ``in_progress`` forever."""
        with self._lock:
            self._stuck_jobs = count

    def transient_404(self, seconds: float) -> None:
        """GETs of an interaction answer 404 during its first ``seconds`` (0 switches this off)."""
        with self._lock:
            self._transient_404_seconds = max(0.0, seconds)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._stuck_jobs = 0
            self._transient_404_seconds = 0.0
            self.fired.clear()

    # -- used by the emulator ------------------------------------------------------------------------
    def take(self, info: RequestInfo, actions: frozenset[str]) -> FaultRule | None:
        """Consume and return the first live rule among ``actions`` that matches this request."""
        with self._lock:
            for rule in self._rules:
                if rule.action in actions and not rule.exhausted and rule.matches(info):
                    if rule.skip > 0:
                        rule.skip -= 1
                        continue
                    rule.fired += 1
                    self.fired[rule.action] += 1
                    self._rules = [r for r in self._rules if not r.exhausted]
                    return rule
        return None

    def take_stuck(self) -> bool:
        with self._lock:
            if self._stuck_jobs is None:
                self.fired["stuck"] += 1
                return True
            if self._stuck_jobs > 0:
                self._stuck_jobs -= 1
                self.fired["stuck"] += 1
                return True
            return False

    @property
    def transient_404_seconds(self) -> float:
        with self._lock:
            return self._transient_404_seconds

    def configure(self, payload: dict[str, Any]) -> list[FaultRule]:
        """Apply the JSON of ``POST /_emulator/faults``: a rule object, or ``{"rules": [...],
        "stuck_jobs": n|null, "transient_404_seconds": t, "clear": true}``."""
        if not isinstance(payload, dict):
            raise ValueError("fault payload must be a JSON object")
        if payload.get("clear"):
            self.clear()
        raw_rules = payload.get("rules", [payload] if "action" in payload else [])
        if not isinstance(raw_rules, list):
            raise ValueError("'rules' must be a list")
        allowed = {f for f in FaultRule.__dataclass_fields__ if f != "fired"}
        rules = []
        for raw in raw_rules:
            unknown = set(raw) - allowed
            if unknown:
                raise ValueError(f"unknown fault fields: {sorted(unknown)}")
            rules.append(FaultRule(**raw))
        for rule in rules:
            self.add(rule)
        if "stuck_jobs" in payload:
            self.stick_jobs(payload["stuck_jobs"])
        if "transient_404_seconds" in payload:
            self.transient_404(float(payload["transient_404_seconds"]))
        return rules

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [r.to_dict() for r in self._rules if not r.exhausted],
                "stuck_jobs": self._stuck_jobs,
                "transient_404_seconds": self._transient_404_seconds,
                "fired": dict(self.fired),
            }
