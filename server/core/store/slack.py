"""Slack thread memory (which interaction a thread continues) and event dedupe shared by every replica."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from .base import StoreBase
from .engine import insert_for, utcnow
from .schema import seen_events, slack_threads


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
        async with self._begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def prune_seen(self, older_than_seconds: float) -> int:
        """Forget keys recorded more than ``older_than_seconds`` ago; return how many."""
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        async with self._begin() as conn:
            result = await conn.execute(delete(seen_events).where(seen_events.c.created_at < cutoff))
        return result.rowcount or 0
