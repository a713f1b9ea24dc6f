"""Research job events across processes: one notification channel in the store, carrying a job id and a kind.

A listener reads the job afresh from the store for every event, so it always sees the latest state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..domain import ResearchJob

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("server.core.research")

EVENTS_CHANNEL = "gemini_research_events"

EventKind = Literal["started", "progress", "plan", "approved", "finished"]


@dataclass(frozen=True, slots=True)
class JobEvent:
    """Published for every job change, across processes. kind: 'started', 'progress', 'plan' (a planned job's
    plan awaits the user), 'approved' (its run started) or 'finished'."""

    kind: str
    job: ResearchJob


async def publish(store: Store, kind: EventKind, job_id: str) -> None:
    """Tell every listener (in every process) that ``job_id`` changed; a failure is logged, never raised."""
    try:
        await store.notify(EVENTS_CHANNEL, json.dumps({"kind": kind, "id": job_id}))
    except Exception:
        log.exception("publishing %s of %s failed", kind, job_id)


@asynccontextmanager
async def subscribe(store: Store) -> AsyncIterator[AsyncIterator[JobEvent]]:
    """``async with subscribe(store) as events: async for event in events: ...``"""
    async with store.listen(EVENTS_CHANNEL) as payloads:

        async def iterate() -> AsyncIterator[JobEvent]:
            async for payload in payloads:
                try:
                    data = json.loads(payload)
                    job = await store.get_job(data["id"])
                except Exception:
                    log.exception("bad research event %r", payload)
                    continue
                if job is not None:
                    yield JobEvent(kind=data["kind"], job=job)

        yield iterate()
