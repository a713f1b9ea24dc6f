"""Event-loop hygiene for async tests whose Core closes with watchers in a query."""

from __future__ import annotations

import asyncio
from typing import Any


async def other_tasks() -> set[Any]:
    """The tasks of the running loop except the caller (e.g. a portal's own, to leave alone when draining)."""
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def drain_stray_tasks(keep: set[Any] | frozenset[Any] = frozenset(), timeout: float = 5.0) -> list[str]:
    """Let SQLAlchemy's connection-closing tasks finish before the event loop closes.

    A statement cut short by cancellation used to leave SQLAlchemy's aiosqlite ``_terminate_graceful_close`` task
    behind, outside any task group; cancelled at loop shutdown, it could wait forever and hang the loop (a whole
    run hung here). The store now shields connection use from cancellation (9048ad3); this stays as a cheap guard
    so a regression fails a test instead of hanging the suite. Waits for such tasks, then cancels (twice) those
    still pending; ``keep`` are never touched. Returns the names it had to cancel.
    """
    strays = {
        task
        for task in await other_tasks() - set(keep)
        if "_terminate_graceful_close" in getattr(task.get_coro(), "__qualname__", "")
    }
    if not strays:
        return []
    _done, pending = await asyncio.wait(strays, timeout=timeout)
    cancelled = sorted(task.get_name() for task in pending)
    for _attempt in range(2):
        for task in pending:
            task.cancel()
        if pending:
            _done, pending = await asyncio.wait(pending, timeout=1.0)
    return cancelled
