"""Plan-first research jobs: the plan recorded, the user's approval, and the run it started.

Each change is one conditional ``UPDATE … RETURNING``, like every job state change that must happen once: of
two approvals at once (two clicks, two replicas) exactly one finds the plan still awaiting approval.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from ..domain import AWAITING_APPROVAL, ResearchJob
from .base import StoreBase
from .engine import utcnow
from .interactions import new_interactions
from .jobs import to_job, watchable
from .schema import jobs


class PlansMixin(StoreBase):
    async def plan_ready(self, interaction_id: str, plan: str) -> bool:
        """A planned job's plan has arrived: it now awaits the user, and nobody watches it. True for the one
        call that did it (the job was still planning)."""
        stmt = (
            update(jobs)
            .where(
                jobs.c.interaction_id == interaction_id,
                jobs.c.status == "in_progress",
                jobs.c.plan_first.is_(True),
                jobs.c.approved_at.is_(None),
            )
            .values(
                status=AWAITING_APPROVAL,
                plan=plan,
                last_event_id=None,
                updated_at=utcnow(),
                lease_owner=None,
                lease_expires_at=None,
            )
            .returning(jobs.c.interaction_id)
        )
        return await self._took(stmt)

    async def approve_job(
        self, interaction_id: str, owner: str, lease_seconds: float, *, changes: str | None = None
    ) -> ResearchJob | None:
        """Approve a plan awaiting the user: the job is ``in_progress`` again, leased to ``owner`` (who starts
        its run). None unless this call did it: of two approvals at once, exactly one wins."""
        now = utcnow()
        stmt = (
            update(jobs)
            .where(jobs.c.interaction_id == interaction_id, jobs.c.status == AWAITING_APPROVAL)
            .values(
                status="in_progress",
                approved_at=now,
                changes=changes,
                progress=None,
                last_event_id=None,
                updated_at=now,
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
            )
            .returning(*jobs.c)
        )
        async with self._begin() as conn:
            row = (await conn.execute(stmt)).first()
        return to_job(row) if row else None

    async def reopen_plan(self, interaction_id: str) -> bool:
        """Undo an approval whose run Gemini refused to start: the plan awaits the user again."""
        stmt = (
            update(jobs)
            .where(
                jobs.c.interaction_id == interaction_id,
                jobs.c.status == "in_progress",
                jobs.c.approved_at.is_not(None),
                jobs.c.run_id.is_(None),
            )
            .values(
                status=AWAITING_APPROVAL,
                approved_at=None,
                changes=None,
                updated_at=utcnow(),
                lease_owner=None,
                lease_expires_at=None,
            )
            .returning(jobs.c.interaction_id)
        )
        return await self._took(stmt)

    async def set_run(self, interaction_id: str, run_id: str) -> bool:
        """Record the run an approval started, and the run's id as the job owner's. False when the job ended
        meanwhile (it was cancelled)."""
        now = utcnow()
        stmt = (
            update(jobs)
            .where(jobs.c.interaction_id == interaction_id, jobs.c.run_id.is_(None), watchable())
            .values(run_id=run_id, updated_at=now)
            .returning(jobs.c.owner)
        )
        async with self._begin() as conn:
            row = (await conn.execute(stmt)).first()
            if row is not None:
                await conn.execute(new_interactions(self._dialect, [run_id], row.owner, "research", now))
        return row is not None
