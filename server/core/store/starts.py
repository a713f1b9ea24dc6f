"""Research runs being started: the intent, written before Gemini is asked, so that no paid run goes untracked.

``add_start`` before the create; ``record_start`` once Gemini answered (the job under Gemini's id, its
deliveries, and the intent gone, in one transaction); ``drop_start`` when no run was started (Gemini refused) or
it was cancelled; ``abandon_starts`` turns intents that a crash left behind into ``start_unknown`` jobs under the
start's own key, shown to their owners like any other job.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert
from sqlalchemy.exc import IntegrityError

from ..domain import START_UNKNOWN, ResearchJob, StartIntent
from .base import StoreBase
from .engine import utcnow
from .jobs import already_stored, insert_job, job_values, origin_of
from .schema import jobs, research_starts


def _unknown_job(row: Row[Any], error: str, now: datetime) -> ResearchJob:
    m = row._mapping
    return ResearchJob(
        interaction_id=m["key"],
        prompt=m["prompt"],
        agent=m["agent"],
        origin=origin_of(m),
        status=START_UNKNOWN,
        created_at=m["created_at"],
        updated_at=now,
        finished_at=now,
        error=error,
    )


class StartsMixin(StoreBase):
    async def add_start(self, start: StartIntent) -> None:
        origin = start.origin
        stmt = insert(research_starts).values(
            key=start.key,
            prompt=start.prompt,
            agent=start.agent,
            source=origin.source,
            owner=origin.owner,
            team_id=origin.team_id,
            channel_id=origin.channel_id,
            thread_ts=origin.thread_ts,
            message_ts=origin.message_ts,
            replica_id=start.replica_id,
            created_at=start.created_at,
        )
        async with self._begin() as conn:
            await conn.execute(stmt)

    async def record_start(self, key: str, job: ResearchJob, *, destinations: Iterable[str] = ()) -> None:
        """The run Gemini started for ``key``: store the job and its deliveries, forget the intent (one
        transaction). Raises ``ConflictError`` if a job with this interaction id exists."""
        try:
            async with self._begin() as conn:
                await insert_job(conn, self._dialect, job, destinations)
                await conn.execute(delete(research_starts).where(research_starts.c.key == key))
        except IntegrityError as exc:
            raise already_stored(job) from exc

    async def drop_start(self, key: str) -> None:
        async with self._begin() as conn:
            await conn.execute(delete(research_starts).where(research_starts.c.key == key))

    async def abandon_starts(
        self, error: str, *, before: datetime | None = None, key: str | None = None
    ) -> list[ResearchJob]:
        """Turn intents begun before ``before`` (or the one ``key``, or every one) into ``start_unknown`` jobs
        carrying ``error``; return them. Each intent is turned once, whichever replica asks."""
        now = utcnow()
        stmt = delete(research_starts).returning(*research_starts.c)
        if before is not None:
            stmt = stmt.where(research_starts.c.created_at < before)
        if key is not None:
            stmt = stmt.where(research_starts.c.key == key)
        async with self._begin() as conn:
            abandoned = [_unknown_job(row, error, now) for row in await conn.execute(stmt)]
            for job in abandoned:
                await conn.execute(insert(jobs).values(**job_values(job, now)))
        return abandoned
