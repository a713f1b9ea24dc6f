"""Delivery records: a finished job's report is posted to each destination once, even across restarts.

A delivery is ``pending`` until a worker claims it (``claimed``, with an expiry), then ``done`` or ``failed``.
A claim that expires (the worker died) makes it claimable again; ``progress`` holds what the last worker already
posted (e.g. the Slack ts of each part) so the next one resumes instead of posting twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Executable, Row, and_, exists, or_, select, update

from .base import TERMINAL, StoreBase
from .engine import Dialect, insert_for, utcnow
from .schema import deliveries, jobs

DeliveryState = Literal["pending", "claimed", "done", "failed"]


@dataclass(frozen=True, slots=True)
class Delivery:
    job_id: str
    destination: str  # e.g. "slack:T1:C1:1700000000.000100"
    state: DeliveryState
    attempts: int = 0
    last_error: str | None = None
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


def _to_delivery(row: Row[Any]) -> Delivery:
    m = row._mapping
    return Delivery(
        job_id=m["job_id"],
        destination=m["destination"],
        state=m["state"],
        attempts=m["attempts"],
        last_error=m["last_error"],
        claimed_by=m["claimed_by"],
        claim_expires_at=m["claim_expires_at"],
        progress=dict(m["progress"] or {}),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _claimable(now: datetime) -> ColumnElement[bool]:
    expired = or_(deliveries.c.claim_expires_at.is_(None), deliveries.c.claim_expires_at <= now)
    job_finished = exists().where(jobs.c.interaction_id == deliveries.c.job_id, jobs.c.status.in_(TERMINAL))
    return and_(
        or_(deliveries.c.state == "pending", and_(deliveries.c.state == "claimed", expired)), job_finished
    )


def _one(job_id: str, destination: str) -> ColumnElement[bool]:
    return and_(deliveries.c.job_id == job_id, deliveries.c.destination == destination)


def new_delivery(dialect: Dialect, job_id: str, destination: str, now: datetime) -> Executable:
    """The insert of a pending delivery; a no-op if it is already recorded."""
    statement: Executable = (
        insert_for(dialect, deliveries)
        .values(
            job_id=job_id,
            destination=destination,
            state="pending",
            attempts=0,
            progress={},
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["job_id", "destination"])
    )
    return statement


class DeliveriesMixin(StoreBase):
    async def add_delivery(self, job_id: str, destination: str) -> None:
        """Record that ``job_id``'s report goes to ``destination``; a no-op if already recorded."""
        async with self._begin() as conn:
            await conn.execute(new_delivery(self._dialect, job_id, destination, utcnow()))

    async def get_delivery(self, job_id: str, destination: str) -> Delivery | None:
        async with self._connect() as conn:
            row = (await conn.execute(select(deliveries).where(_one(job_id, destination)))).first()
        return _to_delivery(row) if row else None

    async def claim_delivery(
        self, job_id: str, destination: str, owner: str, lease_seconds: float
    ) -> Delivery | None:
        """Claim a pending (or expired) delivery of a finished job; None if someone else has it or it is over."""
        now = utcnow()
        stmt = (
            update(deliveries)
            .where(_one(job_id, destination), _claimable(now))
            .values(
                state="claimed",
                claimed_by=owner,
                claim_expires_at=now + timedelta(seconds=lease_seconds),
                updated_at=now,
            )
            .returning(*deliveries.c)
        )
        async with self._begin() as conn:
            row = (await conn.execute(stmt)).first()
        return _to_delivery(row) if row else None

    async def renew_delivery_claim(
        self, job_id: str, destination: str, owner: str, lease_seconds: float
    ) -> Delivery | None:
        """Extend ``owner``'s live claim to a full lease from now; None if the claim expired or is another's.

        A worker renews right before each post, so a post always starts with a whole lease ahead of it and no
        other worker can take the delivery over (and look for what was posted) until that lease has passed.
        """
        now = utcnow()
        stmt = (
            update(deliveries)
            .where(
                _one(job_id, destination),
                deliveries.c.state == "claimed",
                deliveries.c.claimed_by == owner,
                deliveries.c.claim_expires_at > now,
            )
            .values(claim_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now)
            .returning(*deliveries.c)
        )
        async with self._begin() as conn:
            row = (await conn.execute(stmt)).first()
        return _to_delivery(row) if row else None

    async def _set(self, job_id: str, destination: str, owner: str | None, **values: Any) -> bool:
        """Update one delivery; with ``owner``, only while that worker still holds the claim."""
        where = [_one(job_id, destination)]
        if owner is not None:
            where += [deliveries.c.state == "claimed", deliveries.c.claimed_by == owner]
        async with self._begin() as conn:
            result = await conn.execute(
                update(deliveries).where(*where).values(**values, updated_at=utcnow())
            )
        return bool(result.rowcount)

    async def save_delivery_progress(
        self, job_id: str, destination: str, progress: dict[str, Any], *, owner: str | None = None
    ) -> bool:
        """Replace the delivery's progress record (what has been posted so far); False if ``owner`` lost it."""
        return await self._set(job_id, destination, owner, progress=dict(progress))

    async def complete_delivery(self, job_id: str, destination: str, *, owner: str | None = None) -> bool:
        return await self._set(job_id, destination, owner, state="done", claim_expires_at=None)

    async def fail_delivery(
        self,
        job_id: str,
        destination: str,
        error: str,
        *,
        final: bool,
        owner: str | None = None,
        hold_seconds: float = 0.0,
    ) -> bool:
        """Count a failed attempt: back to ``pending`` for a retry, or ``failed`` for good when ``final``.

        ``hold_seconds`` keeps it claimed that much longer instead: an attempt cut off while a post was in flight
        holds it until that post has surely landed or died, so that whoever looks for it next finds it.
        """
        values: dict[str, Any] = {
            "state": "failed" if final else "pending",
            "attempts": deliveries.c.attempts + 1,
            "last_error": error,
            "claim_expires_at": None,
        }
        if not final and hold_seconds > 0:
            values["state"] = "claimed"
            values["claim_expires_at"] = utcnow() + timedelta(seconds=hold_seconds)
        elif not final:
            values["claimed_by"] = None
        return await self._set(job_id, destination, owner, **values)

    async def due_deliveries(self, limit: int = 100) -> list[Delivery]:
        """Deliveries of finished jobs that are pending or whose claim expired, oldest first."""
        query = (
            select(deliveries)
            .where(_claimable(utcnow()))
            .order_by(deliveries.c.created_at, deliveries.c.job_id, deliveries.c.destination)
            .limit(limit)
        )
        async with self._connect() as conn:
            return [_to_delivery(row) for row in await conn.execute(query)]
