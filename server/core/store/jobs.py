"""Research jobs and the leases that give each unfinished job exactly one watcher across replicas.

Every state change that must happen once (finishing a job, taking a lease) is a single conditional
``UPDATE … RETURNING``: the database decides who won, on both engines. On PostgreSQL ``claim_jobs`` first picks
rows with ``FOR UPDATE SKIP LOCKED`` so racing replicas split the free jobs instead of queueing on each other.
Lease times come from the replica's clock: keep replica clocks in sync (NTP) to well under the lease length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, RowMapping, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import AWAITING_APPROVAL, TERMINAL_STATUSES, GeneratedImage, Origin, ResearchJob, UsageRecord
from ..errors import ConflictError, ResearchNotFound
from .base import TERMINAL, StoreBase
from .deliveries import new_delivery
from .engine import Dialect, skip_locked, utcnow
from .interactions import new_interactions
from .schema import jobs, report_images, reports
from .usage import insert_usage

UPDATABLE_FIELDS: frozenset[str] = frozenset(
    {
        "status",
        "progress",
        "last_event_id",
        "report_path",
        "image_paths",
        "error",
        "finished_at",
        "message_ts",
    }
)


def origin_of(m: RowMapping) -> Origin:
    """The origin columns of a row (jobs and research_starts share them)."""
    return Origin(
        source=m["source"],
        owner=m["owner"],
        team_id=m["team_id"],
        channel_id=m["channel_id"],
        thread_ts=m["thread_ts"],
        message_ts=m["message_ts"],
    )


def to_job(row: Row[Any]) -> ResearchJob:
    m = row._mapping
    return ResearchJob(
        interaction_id=m["interaction_id"],
        prompt=m["prompt"],
        agent=m["agent"],
        origin=origin_of(m),
        status=m["status"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        finished_at=m["finished_at"],
        last_event_id=m["last_event_id"],
        progress=m["progress"],
        report_path=m["report_path"],
        error=m["error"],
        image_paths=list(m["image_paths"] or []),
        plan_first=bool(m["plan_first"]),
        plan=m["plan"],
        approved_at=m["approved_at"],
        changes=m["changes"],
        run_id=m["run_id"],
    )


def _unfinished() -> ColumnElement[bool]:
    return jobs.c.status.not_in(TERMINAL)


def watchable() -> ColumnElement[bool]:
    """Unfinished and working upstream: a plan awaiting the user has nothing to watch."""
    return jobs.c.status.not_in((*TERMINAL, AWAITING_APPROVAL))


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(
        jobs.c.lease_owner.is_(None), jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at <= now
    )


def job_values(job: ResearchJob, now: datetime) -> dict[str, Any]:
    """The row of a new job."""
    origin = job.origin
    return {
        "interaction_id": job.interaction_id,
        "prompt": job.prompt,
        "agent": job.agent,
        "source": origin.source,
        "owner": origin.owner,
        "team_id": origin.team_id,
        "channel_id": origin.channel_id,
        "thread_ts": origin.thread_ts,
        "message_ts": origin.message_ts,
        "status": job.status,
        "created_at": job.created_at or now,
        "updated_at": job.updated_at or job.created_at or now,
        "finished_at": job.finished_at,
        "last_event_id": job.last_event_id,
        "progress": job.progress,
        "report_path": job.report_path,
        "image_paths": list(job.image_paths),
        "error": job.error,
        "plan_first": job.plan_first,
        "plan": job.plan,
        "approved_at": job.approved_at,
        "changes": job.changes,
        "run_id": job.run_id,
    }


async def insert_job(
    conn: AsyncConnection, dialect: Dialect, job: ResearchJob, destinations: Iterable[str]
) -> None:
    """Insert a new job, its owner's record of the id and the deliveries of its report (inside the caller's
    transaction)."""
    now = utcnow()
    await conn.execute(insert(jobs).values(**job_values(job, now)))
    await conn.execute(new_interactions(dialect, [job.interaction_id], job.origin.owner, "research", now))
    for destination in destinations:
        await conn.execute(new_delivery(dialect, job.interaction_id, destination, now))


def already_stored(job: ResearchJob) -> ConflictError:
    return ConflictError(
        f"A research job with id {job.interaction_id!r} is already stored; use its status instead."
    )


class JobsMixin(StoreBase):
    async def create_job(self, job: ResearchJob, *, destinations: Iterable[str] = ()) -> None:
        """Insert a new job, its owner's record of the id and the deliveries of its report, in one transaction:
        a crash cannot leave a job that nobody would deliver. Raises ``ConflictError`` if a job with this
        interaction id exists."""
        try:
            async with self._begin() as conn:
                await insert_job(conn, self._dialect, job, destinations)
        except IntegrityError as exc:
            raise already_stored(job) from exc

    async def get_job(self, interaction_id: str) -> ResearchJob | None:
        async with self._connect() as conn:
            row = (await conn.execute(select(jobs).where(jobs.c.interaction_id == interaction_id))).first()
        return to_job(row) if row else None

    async def find_job(self, any_id: str) -> ResearchJob | None:
        """The job started as ``any_id``, or whose approved run is ``any_id`` (a planned job has both)."""
        query = select(jobs).where(or_(jobs.c.interaction_id == any_id, jobs.c.run_id == any_id))
        async with self._connect() as conn:
            row = (await conn.execute(query.order_by(jobs.c.created_at).limit(1))).first()
        return to_job(row) if row else None

    async def list_jobs(
        self,
        *,
        owner: str | None = None,
        team_id: str | None = None,
        source: str | None = None,
        status: str | Iterable[str] | None = None,
        limit: int = 50,
    ) -> list[ResearchJob]:
        """Jobs matching every filter given, newest first."""
        query = select(jobs)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        if team_id is not None:
            query = query.where(jobs.c.team_id == team_id)
        if source is not None:
            query = query.where(jobs.c.source == source)
        if isinstance(status, str):
            query = query.where(jobs.c.status == status)
        elif status is not None:
            query = query.where(jobs.c.status.in_(list(status)))
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.interaction_id.desc()).limit(limit)
        async with self._connect() as conn:
            return [to_job(row) for row in await conn.execute(query)]

    async def update_job(self, interaction_id: str, **fields: Any) -> ResearchJob:
        """Set some of ``UPDATABLE_FIELDS`` (and ``updated_at``); return the job as stored now."""
        unknown = set(fields) - UPDATABLE_FIELDS
        if unknown:
            raise TypeError(f"update_job cannot set {sorted(unknown)}; allowed: {sorted(UPDATABLE_FIELDS)}")
        if "image_paths" in fields:
            fields["image_paths"] = list(fields["image_paths"] or [])
        stmt = (
            update(jobs)
            .where(jobs.c.interaction_id == interaction_id)
            .values(**fields, updated_at=utcnow())
            .returning(*jobs.c)
        )
        async with self._begin() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            raise ResearchNotFound(f"No research job {interaction_id!r} is stored here; check the id.")
        return to_job(row)

    async def finish_job(
        self,
        interaction_id: str,
        status: str,
        *,
        report_path: str | None = None,
        image_paths: Iterable[str] | None = None,
        error: str | None = None,
        report: str | None = None,
        images: Sequence[GeneratedImage] = (),
        usage: UsageRecord | None = None,
    ) -> bool:
        """Make the job terminal unless it already is. True only for the one call that did it.

        ``report`` (markdown) and its ``images`` are stored with it, in the same transaction, for any replica
        to serve; so is the run's ``usage`` (its billed call), recorded once whoever finishes the job.
        """
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"finish_job needs a terminal status ({', '.join(TERMINAL)}), got {status!r}")
        now = utcnow()
        values: dict[str, Any] = {
            "status": status,
            "finished_at": now,
            "updated_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if report_path is not None:
            values["report_path"] = report_path
        if image_paths is not None:
            values["image_paths"] = list(image_paths)
        if error is not None:
            values["error"] = error
        stmt = (
            update(jobs)
            .where(jobs.c.interaction_id == interaction_id, _unfinished())
            .values(**values)
            .returning(jobs.c.interaction_id)
        )
        async with self._begin() as conn:
            if (await conn.execute(stmt)).first() is None:
                return False
            if report is not None:
                await conn.execute(
                    insert(reports).values(job_id=interaction_id, markdown=report, created_at=now)
                )
            if images:
                await conn.execute(
                    insert(report_images),
                    [
                        {"job_id": interaction_id, "number": n, "mime_type": i.mime_type, "data": i.data}
                        for n, i in enumerate(images, 1)
                    ],
                )
            if usage is not None:
                await insert_usage(conn, self._dialect, usage)
            return True

    async def get_report_images(self, interaction_id: str) -> list[GeneratedImage]:
        """The stored images of a finished job's report, in order (none for most reports)."""
        query = (
            select(report_images.c.data, report_images.c.mime_type)
            .where(report_images.c.job_id == interaction_id)
            .order_by(report_images.c.number)
        )
        async with self._connect() as conn:
            return [GeneratedImage(data=row[0], mime_type=row[1]) for row in await conn.execute(query)]

    async def get_report(self, interaction_id: str) -> str | None:
        """The stored markdown report of a finished job, or None."""
        query = select(reports.c.markdown).where(reports.c.job_id == interaction_id)
        async with self._connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def unfinished_jobs(self) -> list[ResearchJob]:
        query = select(jobs).where(_unfinished()).order_by(jobs.c.created_at, jobs.c.interaction_id)
        async with self._connect() as conn:
            return [to_job(row) for row in await conn.execute(query)]

    # -- leases ---------------------------------------------------------------------------------------------

    async def claim_jobs(
        self, owner: str, lease_seconds: float, *, limit: int | None = None, steal_all: bool = False
    ) -> list[ResearchJob]:
        """Take the lease on unfinished jobs that nobody holds (or whose lease expired); oldest first.

        ``steal_all=True`` takes every unfinished job whoever holds it: only for a lone process (SQLite) at
        start-up, when any other holder is a previous run of this very process.
        """
        now = utcnow()
        claimable = watchable() if steal_all else and_(watchable(), _lease_free(now))
        pick = (
            select(jobs.c.interaction_id).where(claimable).order_by(jobs.c.created_at, jobs.c.interaction_id)
        )
        if limit is not None:
            pick = pick.limit(limit)
        stmt = (
            update(jobs)
            .where(jobs.c.interaction_id.in_(skip_locked(pick, self._dialect)), claimable)
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
            .returning(*jobs.c)
        )
        async with self._begin() as conn:
            claimed = [to_job(row) for row in await conn.execute(stmt)]
        claimed.sort(key=lambda job: (job.created_at or now, job.interaction_id))
        return claimed

    async def claim_job(self, interaction_id: str, owner: str, lease_seconds: float) -> bool:
        """Take (or renew) the lease on one unfinished job unless another owner holds a live lease on it."""
        now = utcnow()
        stmt = (
            update(jobs)
            .where(
                jobs.c.interaction_id == interaction_id,
                watchable(),
                or_(_lease_free(now), jobs.c.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
            .returning(jobs.c.interaction_id)
        )
        return await self._took(stmt)

    async def renew_leases(self, owner: str, lease_seconds: float) -> set[str]:
        """Extend every lease ``owner`` still holds on an unfinished job; return those job ids."""
        stmt = (
            update(jobs)
            .where(jobs.c.lease_owner == owner, watchable())
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            .returning(jobs.c.interaction_id)
        )
        async with self._begin() as conn:
            return set((await conn.execute(stmt)).scalars())

    async def release_leases(self, owner: str, ids: Iterable[str] | None = None) -> None:
        """Give up ``owner``'s leases (all of them, or just ``ids``) so another replica can claim them now."""
        stmt = update(jobs).where(jobs.c.lease_owner == owner)
        if ids is not None:
            wanted = list(ids)
            if not wanted:
                return
            stmt = stmt.where(jobs.c.interaction_id.in_(wanted))
        async with self._begin() as conn:
            await conn.execute(stmt.values(lease_owner=None, lease_expires_at=None))
