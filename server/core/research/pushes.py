"""Runs pushed by Gemini's webhooks: a delivery recorded in the store is announced on one notification channel
(across processes on PostgreSQL), and the watcher of that run, wherever it is, wakes and fetches it at once.

The store's record of the delivery is the mark; notifications are hints. A watcher that starts reads the mark
(``Store.last_push``: a run pushed while nobody watched it, or before it was even recorded, is fetched at once),
and the lease keeper looks for fresh marks on its runs at every renewal (``Store.pushed_since``), so a
notification lost while a PostgreSQL listener reconnects delays a run by a quarter of a lease at most.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("server.core.research")

PUSH_CHANNEL = "gemini_webhook_pushes"
RELAY_MAX_BACKOFF_SECONDS = 30.0


class PushSignals:
    """In this process: one event per watched run, set when a push for it is announced."""

    def __init__(self) -> None:
        self._events: dict[str, anyio.Event] = {}

    def waiter(self, job_id: str) -> anyio.Event:
        """The event the next push for ``job_id`` sets. Take it before reading the store, then wait on it."""
        event = self._events.get(job_id)
        if event is None or event.is_set():
            event = self._events[job_id] = anyio.Event()
        return event

    def wake(self, job_id: str) -> None:
        event = self._events.pop(job_id, None)
        if event is not None:
            event.set()

    def forget(self, job_id: str) -> None:
        self._events.pop(job_id, None)


async def announce(store: Store, job_id: str) -> None:
    """Tell every process that ``job_id`` was pushed; a failure is logged (the mark in the store remains)."""
    try:
        await store.notify(PUSH_CHANNEL, job_id)
    except Exception:
        log.exception("announcing the push of %s failed; its watcher finds the mark later", job_id)


async def relay(store: Store, signals: PushSignals) -> None:
    """Announcements from every process → this process's watchers; listens again with backoff on failure."""
    backoff = 1.0
    while True:
        try:
            async with store.listen(PUSH_CHANNEL) as pushes:
                backoff = 1.0
                async for job_id in pushes:
                    signals.wake(job_id)
            log.warning("the webhook push channel ended; listening again")
        except Exception:
            log.exception("listening for webhook pushes failed; retrying in %.0f s", backoff)
        await anyio.sleep(backoff)
        backoff = min(backoff * 2, RELAY_MAX_BACKOFF_SECONDS)
