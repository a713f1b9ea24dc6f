"""Readiness of the core (``/readyz`` on every HTTP door): whether the job store is open and its migrations
applied, and how opening it is retried until it is."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio

from . import errors

log = logging.getLogger("server.core.core")

S = TypeVar("S")

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


class StoreOpening:
    """The attempts at opening the job store, and what they say meanwhile (``/readyz``, ``NotReady``)."""

    def __init__(self) -> None:
        self.first_attempt = anyio.Event()  # the first attempt has ended, either way
        self.attempts = 0
        self.last_failure: str | None = None  # what the last failed attempt met (an exception's class name)
        self.fatal: errors.ConfigurationError | None = None  # a setting that no retry will fix

    async def open(self, attempt: Callable[[], Awaitable[S]]) -> S | None:
        """``attempt()`` until it opens the store, with backoff (None: a bad setting, which no retry fixes)."""
        backoff = STORE_RETRY_FIRST_SECONDS
        while True:
            self.attempts += 1
            try:
                store = await attempt()
            except errors.ConfigurationError as exc:
                self.fatal = exc
                self.first_attempt.set()
                log.error("the job store cannot be opened: %s", exc)
                return None
            except Exception as exc:
                self.last_failure = exc.__class__.__name__
                self.first_attempt.set()
                log.warning(
                    "opening the job store failed (attempt %d: %s: %s); retrying in %.1f s",
                    self.attempts,
                    self.last_failure,
                    str(exc)[:300],
                    backoff,
                )
                await anyio.sleep(backoff)
                backoff = min(backoff * 2, STORE_RETRY_MAX_SECONDS)
                continue
            if self.last_failure is not None:
                log.info("the job store is open (attempt %d)", self.attempts)
            self.last_failure = None
            return store

    def readiness(self, schema: str | None, *, ready: bool) -> Readiness:
        if ready:
            done = "The job store is open and its migrations applied."
            return Readiness(True, "open", done, self.attempts, schema)
        if self.fatal is not None:
            return Readiness(False, "failed", str(self.fatal), self.attempts)
        if self.last_failure is None:
            return Readiness(False, "opening", "The job store is opening.", self.attempts)
        return Readiness(
            False,
            "retrying",
            f"The job database could not be opened yet ({self.last_failure}, {self.attempts} attempt(s)); the "
            f"server keeps retrying on its own. Wait a moment; {CHECK_STORE}.",
            self.attempts,
        )

    def not_ready(self) -> errors.GeminiInteractionsError:
        if self.fatal is not None:
            return self.fatal
        still = f" (last attempt: {self.last_failure})" if self.last_failure else ""
        return errors.NotReady(
            f"The job database is not ready yet{still}: the server is still connecting to it and keeps retrying "
            f"on its own. Try again in a moment; {CHECK_STORE}."
        )
