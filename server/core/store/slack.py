"""What the Slack bot shares across replicas: thread memory (which interaction a thread continues), event
dedupe, and the research runs being started."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select

from ..domain import START_UNKNOWN
from .base import StoreBase
from .engine import insert_for, utcnow
from .schema import jobs, seen_events, slack_pending_starts, slack_threads


@dataclass(frozen=True, slots=True)
class PendingStart:
    """A 'research started' message posted in Slack whose run was not recorded yet."""

    team_id: str
    channel_id: str
    message_ts: str
    user_id: str
    topic: str
    created_at: datetime


class SlackMixin(StoreBase):
    async def get_thread(self, team_id: str, channel_id: str, thread_ts: str) -> str | None:
        """The latest interaction id of this Slack thread, or None for a thread we have not answered in."""
        query = select(slack_threads.c.interaction_id).where(
            slack_threads.c.team_id == team_id,
            slack_threads.c.channel_id == channel_id,
            slack_threads.c.thread_ts == thread_ts,
        )
        async with self._connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def set_thread(self, team_id: str, channel_id: str, thread_ts: str, interaction_id: str) -> None:
        now = utcnow()
        stmt = insert_for(self._dialect, slack_threads).values(
            team_id=team_id,
            channel_id=channel_id,
            thread_ts=thread_ts,
            interaction_id=interaction_id,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["team_id", "channel_id", "thread_ts"],
            set_={"interaction_id": interaction_id, "updated_at": now},
        )
        async with self._begin() as conn:
            await conn.execute(stmt)

    async def first_seen(self, key: str) -> bool:
        """Record ``key``; True only for the one call (in any process) that recorded it first."""
        stmt = (
            insert_for(self._dialect, seen_events)
            .values(key=key, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(seen_events.c.key)
        )
        return await self._took(stmt)

    async def prune_seen(self, older_than_seconds: float) -> int:
        """Forget keys recorded more than ``older_than_seconds`` ago; return how many."""
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        async with self._begin() as conn:
            result = await conn.execute(delete(seen_events).where(seen_events.c.created_at < cutoff))
        return result.rowcount or 0

    async def add_pending_start(self, start: PendingStart) -> None:
        stmt = insert_for(self._dialect, slack_pending_starts).values(
            team_id=start.team_id,
            channel_id=start.channel_id,
            message_ts=start.message_ts,
            user_id=start.user_id,
            topic=start.topic,
            created_at=start.created_at,
        )
        async with self._begin() as conn:
            await conn.execute(stmt.on_conflict_do_nothing())

    async def remove_pending_start(self, team_id: str, channel_id: str, message_ts: str) -> None:
        async with self._begin() as conn:
            await conn.execute(
                delete(slack_pending_starts).where(
                    slack_pending_starts.c.team_id == team_id,
                    slack_pending_starts.c.channel_id == channel_id,
                    slack_pending_starts.c.message_ts == message_ts,
                )
            )

    async def stale_pending_starts(self, older_than_seconds: float, limit: int = 50) -> list[PendingStart]:
        """Starts begun more than ``older_than_seconds`` ago whose run was never recorded (the process died).

        Rows whose run was recorded after all (the process died just before removing the row) are removed; a
        ``start_unknown`` job is no recorded run: its user is still to be told.
        """
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        t = slack_pending_starts
        recorded = exists().where(
            jobs.c.team_id == t.c.team_id,
            jobs.c.channel_id == t.c.channel_id,
            jobs.c.message_ts == t.c.message_ts,
            jobs.c.status != START_UNKNOWN,
        )
        async with self._begin() as conn:
            await conn.execute(delete(t).where(t.c.created_at < cutoff, recorded))
            rows = await conn.execute(
                select(t).where(t.c.created_at < cutoff).order_by(t.c.created_at).limit(limit)
            )
            return [PendingStart(**row._mapping) for row in rows]
