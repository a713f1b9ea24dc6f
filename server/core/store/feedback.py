"""Feedback on answers (the thumbs under an answer in Slack): one rating per person and interaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from .base import StoreBase
from .engine import insert_for, utcnow
from .schema import feedback

Rating = Literal["up", "down"]


@dataclass(frozen=True, slots=True)
class Feedback:
    interaction_id: str
    team_id: str
    user_id: str
    rating: Rating
    channel_id: str | None
    message_ts: str | None
    created_at: datetime
    updated_at: datetime


class FeedbackMixin(StoreBase):
    async def set_feedback(
        self,
        *,
        interaction_id: str,
        team_id: str,
        user_id: str,
        rating: Rating,
        channel_id: str | None = None,
        message_ts: str | None = None,
    ) -> None:
        """Record ``user_id``'s rating of ``interaction_id``; a later click replaces an earlier one."""
        now = utcnow()
        stmt = insert_for(self._dialect, feedback).values(
            interaction_id=interaction_id,
            team_id=team_id,
            user_id=user_id,
            rating=rating,
            channel_id=channel_id,
            message_ts=message_ts,
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["interaction_id", "team_id", "user_id"],
            set_={"rating": rating, "channel_id": channel_id, "message_ts": message_ts, "updated_at": now},
        )
        async with self._begin() as conn:
            await conn.execute(stmt)

    async def feedback_for(self, interaction_id: str) -> list[Feedback]:
        """Every rating of ``interaction_id``, oldest first."""
        query = (
            select(feedback)
            .where(feedback.c.interaction_id == interaction_id)
            .order_by(feedback.c.created_at)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [Feedback(**dict(row)) for row in rows]
