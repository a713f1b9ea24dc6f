"""Feedback on answers: one rating per person and interaction, a second click replacing the first."""

from __future__ import annotations

import pytest

from server.core.store import Store

pytestmark = pytest.mark.anyio


async def test_a_rating_is_kept_per_person_and_replaced_by_a_later_click(store: Store) -> None:
    assert await store.feedback_for("v1_a") == []
    await store.set_feedback(
        interaction_id="v1_a", team_id="T1", user_id="U1", rating="up", channel_id="C1", message_ts="1.1"
    )
    await store.set_feedback(interaction_id="v1_a", team_id="T1", user_id="U2", rating="down")
    await store.set_feedback(interaction_id="v1_b", team_id="T1", user_id="U1", rating="down")
    await store.set_feedback(
        interaction_id="v1_a", team_id="T1", user_id="U1", rating="down", channel_id="C1", message_ts="1.1"
    )
    rows = await store.feedback_for("v1_a")
    assert [(r.user_id, r.rating) for r in rows] == [("U1", "down"), ("U2", "down")]
    first = rows[0]
    assert first.channel_id == "C1" and first.message_ts == "1.1"
    assert first.updated_at >= first.created_at and first.created_at.tzinfo is not None
