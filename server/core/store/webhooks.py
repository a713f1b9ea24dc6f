"""Gemini webhook deliveries: one row per ``webhook-id`` (so a delivery is taken once, whichever replica Gemini
reaches, however often it retries), and each row naming a run is the mark its watcher looks for.

A delivery for an interaction we do not know yet is kept too: a run whose create answer is still on its way
finds its mark as soon as it is recorded.

A delivery names an upstream interaction; a planned job has two (its planning turn, under the job's id, then the
approved run, ``run_id``). The mark belongs to the job, and only a delivery for the interaction that works for
the job now (``run_id``, else the job's id) counts: the planning turn's news is old once its run has started.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, or_, select

from .base import TERMINAL, StoreBase
from .engine import insert_for, utcnow
from .schema import jobs, webhook_deliveries

#: ``duplicate``: this webhook-id was taken before; ``unknown``: no run of ours has this id (yet);
#: ``finished``: the run has ended already (or, for a planning turn, its approved run has started);
#: ``marked``: an unfinished run of ours, now marked.
Recorded = Literal["duplicate", "unknown", "finished", "marked"]

# The interaction that works for a job now: its approved run, else the one it started with.
_upstream = func.coalesce(jobs.c.run_id, jobs.c.interaction_id)


class WebhooksMixin(StoreBase):
    async def record_webhook(
        self,
        webhook_id: str,
        event_type: str,
        interaction_id: str | None,
        received_at: datetime | None = None,
    ) -> tuple[Recorded, str | None]:
        """Take one verified delivery, once per ``webhook_id`` across every replica (one transaction). Returns
        what it was, and the job it marks (its ``interaction_id``) when it names one of ours."""
        stmt = (
            insert_for(self._dialect, webhook_deliveries)
            .values(
                webhook_id=webhook_id,
                event_type=event_type,
                interaction_id=interaction_id,
                received_at=received_at or utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["webhook_id"])
            .returning(webhook_deliveries.c.webhook_id)
        )
        async with self._begin() as conn:
            if (await conn.execute(stmt)).first() is None:
                return "duplicate", None
            if interaction_id is None:
                return "unknown", None
            named = or_(jobs.c.interaction_id == interaction_id, jobs.c.run_id == interaction_id)
            row = (
                await conn.execute(select(jobs.c.interaction_id, jobs.c.status, _upstream).where(named))
            ).first()
        if row is None:
            return "unknown", None
        job_id, status, upstream = row
        if status in TERMINAL or upstream != interaction_id:
            return "finished", job_id
        return "marked", job_id

    async def last_push(self, job_id: str) -> datetime | None:
        """When the latest delivery naming the interaction that works for this job now was received, or None."""
        query = (
            select(func.max(webhook_deliveries.c.received_at))
            .join(jobs, webhook_deliveries.c.interaction_id == _upstream)
            .where(jobs.c.interaction_id == job_id)
        )
        async with self._connect() as conn:
            latest: datetime | None = (await conn.execute(query)).scalar_one_or_none()
        return latest

    async def pushed_since(self, owner: str, since: datetime) -> dict[str, datetime]:
        """Unfinished jobs whose lease ``owner`` holds whose current interaction got a delivery at or after
        ``since``: job → when the latest one was received."""
        received = webhook_deliveries.c.received_at
        query = (
            select(jobs.c.interaction_id, func.max(received))
            .join(webhook_deliveries, webhook_deliveries.c.interaction_id == _upstream)
            .where(jobs.c.lease_owner == owner, jobs.c.status.not_in(TERMINAL), received >= since)
            .group_by(jobs.c.interaction_id)
        )
        async with self._connect() as conn:
            return {row[0]: row[1] for row in await conn.execute(query)}

    async def prune_webhooks(self, older_than_seconds: float) -> int:
        """Forget deliveries received more than ``older_than_seconds`` ago; return how many."""
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        async with self._begin() as conn:
            result = await conn.execute(
                delete(webhook_deliveries).where(webhook_deliveries.c.received_at < cutoff)
            )
        return result.rowcount or 0
