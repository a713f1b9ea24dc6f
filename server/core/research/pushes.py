"""Runs pushed by Gemini's webhooks: a delivery recorded in the store is announced on one notification channel
(across processes on PostgreSQL), and the watcher of that run, wherever it is, wakes and fetches it at once.

The store's record of the delivery is the mark; notifications are hints. A watcher that starts reads the mark
(``Store.last_push``: a run pushed while nobody watched it, or before it was even recorded, is fetched at once),
and the lease keeper looks for fresh marks on its runs at every renewal (``Store.pushed_since``), so a
notification lost while a PostgreSQL listener reconnects delays a run by a quarter of a lease at most.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("server.core.research")

PUSH_CHANNEL = "gemini_webhook_pushes"
RELAY_MAX_BACKOFF_SECONDS = 30.0


@dataclass(slots=True)
class _Slot:
    event: anyio.Event
    latest: datetime | None = None  # the newest delivery signalled to this watcher


class PushSignals:
    """In this process, per watched run: an event set when a delivery newer than any signalled before is
    announced (the announcement and the lease keeper's look at the store may report the same delivery).
    Announcements for runs not watched here (every replica hears every announcement) are ignored."""

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}

    def waiter(self, job_id: str) -> anyio.Event:
        """The event the next push for ``job_id`` sets (from now on, this process watches it). Take it before
        reading the store, then wait on it."""
        slot = self._slots.get(job_id)
        if slot is None:
            slot = self._slots[job_id] = _Slot(anyio.Event())
        elif slot.event.is_set():
            slot.event = anyio.Event()
        return slot.event

    def wake(self, job_id: str, received_at: datetime) -> bool:
        """Signal the delivery received at ``received_at`` unless it (or a later one) was signalled already."""
        slot = self._slots.get(job_id)
        if slot is None or (slot.latest is not None and received_at <= slot.latest):
            return False
        slot.latest = received_at
        slot.event.set()
        return True

    def forget(self, job_id: str) -> None:
        self._slots.pop(job_id, None)


async def announce(store: Store, job_id: str, received_at: datetime) -> None:
    """Tell every process that ``job_id`` was pushed; a failure is logged (the mark in the store remains)."""
    try:
        await store.notify(PUSH_CHANNEL, json.dumps({"id": job_id, "at": received_at.isoformat()}))
    except Exception:
        log.exception("announcing the push of %s failed; its watcher finds the mark later", job_id)


async def relay(store: Store, signals: PushSignals) -> None:
    """Announcements from every process → this process's watchers; listens again with backoff on failure."""
    backoff = 1.0
    while True:
        try:
            async with store.listen(PUSH_CHANNEL) as pushes:
                backoff = 1.0
                async for payload in pushes:
                    try:
                        data = json.loads(payload)
                        signals.wake(data["id"], datetime.fromisoformat(data["at"]))
                    except (ValueError, KeyError, TypeError):
                        log.warning("ignored a malformed push announcement %r", payload[:200])
            log.warning("the webhook push channel ended; listening again")
        except Exception:
            log.exception("listening for webhook pushes failed; retrying in %.0f s", backoff)
        await anyio.sleep(backoff)
        backoff = min(backoff * 2, RELAY_MAX_BACKOFF_SECONDS)
