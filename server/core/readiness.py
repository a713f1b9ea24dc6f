"""Readiness of the core (``/readyz`` on every HTTP door): whether the job store is open and its migrations
applied, and how opening it is retried until it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

STORE_ATTEMPT_SECONDS = 30.0  # one attempt at opening the store: connect, then apply the migrations
STORE_RETRY_FIRST_SECONDS = 0.5
STORE_RETRY_MAX_SECONDS = 15.0
FIRST_OPEN_WAIT_SECONDS = 30.0  # a call made during the first attempt waits for it (a normal start-up)
CHECK_STORE = (
    "if this lasts, the operator should check GEMINI_INTERACTIONS_DATABASE_URL / GEMINI_INTERACTIONS_DATA_DIR "
    "(database up, disk space, permissions) and the server log"
)

StoreState = Literal["opening", "retrying", "open", "failed"]


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the core can serve everything (for ``/readyz``): the store open and its migrations applied."""

    ready: bool
    store: StoreState
    detail: str  # for people: what is the matter, and what to do; never a secret
    attempts: int = 0  # attempts at opening the store so far
    schema: str | None = None  # the last migration applied, once open

    def as_json(self) -> dict[str, Any]:
        """The body of ``/readyz``."""
        return {
            "ready": self.ready,
            "store": self.store,
            "migrations": self.schema,
            "attempts": self.attempts,
            "detail": self.detail,
        }
