"""Work that outlives the request that started it: tracked, supervised, logged, and drained at shutdown.

Bolt runs a listener after the ack in ``asyncio.ensure_future`` and keeps no reference to it, so anything slow
(Gemini calls, uploads) goes through :class:`TaskSupervisor` instead: it holds a strong reference to every task,
logs every failure, and on shutdown waits briefly for work in flight before cancelling the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskSupervisor:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: set[asyncio.Task[Any]] = set()
        self._closing = False

    @property
    def running(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any] | None:
        """Run ``coro`` in the background; its failure is logged, never lost. None once shutting down."""
        if self._closing:
            coro.close()
            log.warning("not starting %s: shutting down", name)
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._loops.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    def supervise(
        self,
        factory: Callable[[], Awaitable[None]],
        *,
        name: str,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> asyncio.Task[Any] | None:
        """Keep ``factory()`` running for the bot's lifetime: restart it with backoff when it fails or returns."""

        async def loop() -> None:
            backoff = min_backoff
            while True:
                started = asyncio.get_running_loop().time()
                try:
                    await factory()
                    log.warning("%s returned; restarting", name)
                except Exception:
                    log.exception("%s failed; restarting in %.1f s", name, backoff)
                if asyncio.get_running_loop().time() - started > 60:
                    backoff = min_backoff
                await asyncio.sleep(backoff)
                backoff = min(max_backoff, backoff * 2)

        task = self.spawn(loop(), name=name)
        if task is not None:
            self._loops.add(task)
        return task

    async def shutdown(self, grace_seconds: float = 5.0) -> None:
        """Stop the supervised loops, wait up to ``grace_seconds`` for work in flight, cancel what is left."""
        self._closing = True
        loops = set(self._loops)
        for task in loops:
            task.cancel()
        work = {t for t in self._tasks if t not in loops and not t.done()}
        if work:
            _, work = await asyncio.wait(work, timeout=grace_seconds)
        for task in work:
            task.cancel()
        if work:
            log.info("cancelled %d background task(s) at shutdown", len(work))
        leftover = loops | work
        if leftover:
            await asyncio.wait(leftover, timeout=2.0)
