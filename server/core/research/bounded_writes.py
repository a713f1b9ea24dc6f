"""Store writes that their caller stops waiting for at a deadline (``within``). A write cannot be cut short (a
connection is shielded while in use), so it runs in a background task group and may still finish later: then it
is logged, and its ``late`` tidy-up runs. The start a write belongs to (``key``) stays in ``starting`` until every
such write is done, so that nobody takes it for a start cut short meanwhile."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio
import anyio.abc

from .. import errors

log = logging.getLogger("server.core.research")

T = TypeVar("T")


@dataclass
class _Write(Generic[T]):
    """A store write run in the background, so that its caller can stop waiting at a deadline."""

    what: str
    key: str | None = None  # the start it belongs to
    done: anyio.Event = field(default_factory=anyio.Event)
    value: T | None = None
    error: Exception | None = None
    abandoned: bool = False


class BoundedWrites:
    def __init__(self, starting: set[str]) -> None:
        self.starting = starting
        self.tg: anyio.abc.TaskGroup | None = None  # where writes run (set while the starter runs)
        self._holds: Counter[str] = Counter()

    def hold(self, key: str) -> None:
        self._holds[key] += 1
        self.starting.add(key)

    def release(self, key: str) -> None:
        self._holds[key] -= 1
        if self._holds[key] <= 0:
            del self._holds[key]
            self.starting.discard(key)

    async def within(
        self,
        seconds: float,
        write: Callable[[], Awaitable[T]],
        *,
        what: str,
        late: Callable[[T], Awaitable[None]] | None = None,
        key: str | None = None,
    ) -> T:
        """``await write()``, but stop waiting after ``seconds`` (TimeoutError). Store writes cannot be cut short
        (a connection is shielded while in use), so the write runs in our task group and may still finish
        later: then ``late(result)`` runs. ``key`` stays in ``starting`` until the write is done."""
        if self.tg is None:
            raise errors.NotReady("The research service is not running yet; try again in a moment.")
        pending: _Write[T] = _Write(what, key=key)
        self.tg.start_soon(self._run, pending, write, late, name=what)
        try:
            with anyio.move_on_after(seconds):
                await pending.done.wait()
        finally:
            pending.abandoned = not pending.done.is_set()
            if pending.abandoned and key is not None:
                self.hold(key)
        if pending.abandoned:
            raise TimeoutError(f"{what} took more than {seconds:g} s")
        if pending.error is not None:
            raise pending.error
        return pending.value  # type: ignore[return-value]  # set whenever done without an error

    async def _run(
        self,
        pending: _Write[T],
        write: Callable[[], Awaitable[T]],
        late: Callable[[T], Awaitable[None]] | None,
    ) -> None:
        try:
            pending.value = await write()
        except Exception as exc:
            pending.error = exc
        finally:
            pending.done.set()
        if not pending.abandoned:
            return
        try:
            await self._after_deadline(pending, late)
        finally:
            if pending.key is not None:
                self.release(pending.key)

    async def _after_deadline(self, pending: _Write[T], late: Callable[[T], Awaitable[None]] | None) -> None:
        if pending.error is not None:
            log.warning("%s failed after its deadline: %s", pending.what, pending.error.__class__.__name__)
            return
        log.warning("%s finished after its deadline", pending.what)
        if late is not None:
            try:
                await late(pending.value)  # type: ignore[arg-type]  # set: no error
            except Exception:
                log.exception("tidying up after %s failed", pending.what)
