"""Billed calls (usage and estimated cost) and the counters the operator's limits are checked against.

A usage record is kept once per (interaction id, kind): two replicas finishing the same research run record it
once. Its cost is added to the month's spend counter in the same transaction, so the budget check reads one row.
A counter changes only through one conditional ``UPDATE … RETURNING``: the database decides who got the last
slot, on both engines, however many replicas ask at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import Cost, Usage, UsageRecord, UsageTotal
from .base import StoreBase
from .engine import Dialect, insert_for
from .schema import usage_counters, usage_records

SPEND = "spend_micro_usd"  # counter name: key "", period "YYYY-MM", count in millionths of a dollar
MICRO = 1_000_000


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def _micro(cost: Cost) -> int | None:
    if cost.usd is None:
        return None
    return round(cost.usd * MICRO)


async def insert_usage(conn: AsyncConnection, dialect: Dialect, record: UsageRecord) -> bool:
    """Record one billed call unless it is recorded already; add its cost to the month's spend. True if new."""
    usage = record.usage
    micro = _micro(record.cost)
    stmt = (
        insert_for(dialect, usage_records)
        .values(
            interaction_id=record.interaction_id,
            kind=record.kind,
            created_at=record.at,
            day=record.at.astimezone(UTC).date().isoformat(),
            owner=record.owner,
            source=record.source,
            team_id=record.team_id,
            model=record.model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            thought_tokens=usage.thought_tokens,
            total_tokens=usage.total_tokens,
            usage=usage.as_dict(),
            cost_micro_usd=micro,
            cost_basis=record.cost.basis,
        )
        .on_conflict_do_nothing(index_elements=["interaction_id", "kind"])
        .returning(usage_records.c.interaction_id)
    )
    if (await conn.execute(stmt)).first() is None:
        return False
    if micro:
        add = insert_for(dialect, usage_counters).values(
            name=SPEND, key="", period=month_of(record.at), count=micro
        )
        await conn.execute(
            add.on_conflict_do_update(
                index_elements=["name", "key", "period"],
                set_={"count": usage_counters.c.count + add.excluded.count},
            )
        )
    return True


def _record(row: Row[Any]) -> UsageRecord:
    m = row._mapping
    micro = m["cost_micro_usd"]
    return UsageRecord(
        interaction_id=m["interaction_id"],
        kind=m["kind"],
        usage=Usage.from_dict(m["usage"] or {}),
        cost=Cost(None if micro is None else _usd(int(micro)), m["cost_basis"]),
        at=m["created_at"],
        model=m["model"],
        owner=m["owner"],
        source=m["source"],
        team_id=m["team_id"],
    )


def _usd(micro: int) -> Decimal:
    return Decimal(micro) / MICRO


def _counter(name: str, key: str, period: str) -> ColumnElement[bool]:
    return (
        (usage_counters.c.name == name) & (usage_counters.c.key == key) & (usage_counters.c.period == period)
    )


class UsageMixin(StoreBase):
    async def add_usage(self, record: UsageRecord) -> bool:
        """Record a billed call (once per interaction id and kind); True when this call recorded it."""
        async with self._begin() as conn:
            return await insert_usage(conn, self._dialect, record)

    async def usage_of(
        self, interaction_ids: Iterable[str], kind: str | None = None
    ) -> dict[str, UsageRecord]:
        """The recorded calls of these interaction ids (of ``kind``, when given), by interaction id."""
        ids = list(dict.fromkeys(interaction_ids))
        if not ids:
            return {}
        query = select(usage_records).where(usage_records.c.interaction_id.in_(ids))
        if kind is not None:
            query = query.where(usage_records.c.kind == kind)
        async with self._connect() as conn:
            return {row.interaction_id: _record(row) for row in await conn.execute(query)}

    async def usage_totals(
        self,
        by: Literal["owner", "day"],
        *,
        since: datetime,
        until: datetime,
        owner: str | None = None,
        team_id: str | None = None,
        source: str | None = None,
    ) -> list[UsageTotal]:
        """Calls in ``[since, until)`` summed per owner (most spent first) or per UTC day (oldest first)."""
        u = usage_records.c
        key = u.owner if by == "owner" else u.day
        query = (
            select(
                key,
                func.count(),
                func.sum(case((u.kind == "research", 1), else_=0)),
                func.sum(u.input_tokens),
                func.sum(u.output_tokens + u.thought_tokens),
                func.sum(u.cost_micro_usd),
                func.sum(case((u.cost_micro_usd.is_(None), 1), else_=0)),
            )
            .where(u.created_at >= since, u.created_at < until)
            .group_by(key)
        )
        for column, value in ((u.owner, owner), (u.team_id, team_id), (u.source, source)):
            if value is not None:
                query = query.where(column == value)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
        totals = [
            UsageTotal(
                key=row[0],
                calls=int(row[1]),
                research_runs=int(row[2] or 0),
                input_tokens=int(row[3] or 0),
                output_tokens=int(row[4] or 0),
                cost_usd=_usd(int(row[5] or 0)),
                unpriced_calls=int(row[6] or 0),
            )
            for row in rows
        ]
        if by == "day":
            return sorted(totals, key=lambda t: t.key or "")
        return sorted(totals, key=lambda t: (-t.cost_usd, -t.calls, t.key or ""))

    # -- counters -----------------------------------------------------------------------------------------

    async def month_spend(self, moment: datetime) -> int:
        """The estimated spend recorded in the UTC month of ``moment``, in millionths of a dollar."""
        return await self.count(SPEND, "", month_of(moment))

    async def count(self, name: str, key: str, period: str) -> int:
        query = select(usage_counters.c.count).where(_counter(name, key, period))
        async with self._connect() as conn:
            return int((await conn.execute(query)).scalar_one_or_none() or 0)

    async def take_count(self, name: str, key: str, period: str, limit: int) -> int | None:
        """Add one to the counter unless it has reached ``limit``: the new count, or None when it had.

        The first count of a period removes that counter's earlier periods (they can no longer matter).
        """
        async with self._begin() as conn:
            created = await conn.execute(
                insert_for(self._dialect, usage_counters)
                .values(name=name, key=key, period=period, count=0)
                .on_conflict_do_nothing(index_elements=["name", "key", "period"])
                .returning(usage_counters.c.name)
            )
            if created.first() is not None:
                await conn.execute(
                    delete(usage_counters).where(
                        usage_counters.c.name == name,
                        usage_counters.c.key == key,
                        usage_counters.c.period < period,
                    )
                )
            row = (
                await conn.execute(
                    update(usage_counters)
                    .where(_counter(name, key, period), usage_counters.c.count < limit)
                    .values(count=usage_counters.c.count + 1)
                    .returning(usage_counters.c.count)
                )
            ).first()
        return None if row is None else int(row[0])

    async def give_back_count(self, name: str, key: str, period: str) -> None:
        """Undo one ``take_count`` (a start that did not happen)."""
        async with self._begin() as conn:
            await conn.execute(
                update(usage_counters)
                .where(_counter(name, key, period), usage_counters.c.count > 0)
                .values(count=usage_counters.c.count - 1)
            )
