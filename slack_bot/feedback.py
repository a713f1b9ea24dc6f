"""Thumbs up / down under an answer (Slack's ``feedback_buttons`` element in a ``context_actions`` block): each
click is stored with the interaction id and the person, and logged as one JSON line."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

if TYPE_CHECKING:
    from .bot import SlackBot

log = logging.getLogger(__name__)

FEEDBACK_ACTION = "answer_feedback"
RATINGS = {"up": "Good answer", "down": "Bad answer"}


def feedback_blocks(interaction_id: str) -> list[dict[str, Any]]:
    """The buttons under an answer; each carries the rating and the interaction it rates."""
    if not interaction_id:
        return []
    return [
        {
            "type": "context_actions",
            "elements": [
                {
                    "type": "feedback_buttons",
                    "action_id": FEEDBACK_ACTION,
                    "positive_button": {
                        "text": {"type": "plain_text", "text": "Good answer"},
                        "accessibility_label": "Mark this answer as good",
                        "value": f"up:{interaction_id}",
                    },
                    "negative_button": {
                        "text": {"type": "plain_text", "text": "Bad answer"},
                        "accessibility_label": "Mark this answer as bad",
                        "value": f"down:{interaction_id}",
                    },
                }
            ],
        }
    ]


async def record(bot: SlackBot, body: dict[str, Any], action: dict[str, Any]) -> None:
    """Store and log one click, then thank the person (only they see it)."""
    rating, _, interaction_id = str(action.get("value") or "").partition(":")
    user = body.get("user") or {}
    team_id = str(user.get("team_id") or (body.get("team") or {}).get("id") or "")
    user_id = str(user.get("id") or "")
    channel_id = str((body.get("channel") or {}).get("id") or "") or None
    message = body.get("message") or {}
    message_ts = str(message.get("ts") or "") or None
    if rating not in RATINGS or not interaction_id or not user_id:
        log.warning("ignoring a feedback click that names no rating or answer")
        return
    await bot.store.set_feedback(
        interaction_id=interaction_id,
        team_id=team_id,
        user_id=user_id,
        rating="up" if rating == "up" else "down",
        channel_id=channel_id,
        message_ts=message_ts,
    )
    log.info(
        json.dumps(
            {
                "event": "answer_feedback",
                "rating": rating,
                "interaction_id": interaction_id,
                "team_id": team_id,
                "user_id": user_id,
                "channel_id": channel_id,
                "message_ts": message_ts,
            }
        )
    )
    if channel_id:
        try:
            await bot.client.chat_postEphemeral(
                channel=channel_id,
                user=user_id,
                text="Thanks for the feedback.",
                thread_ts=message.get("thread_ts") or message_ts,
            )
        except SlackApiError as exc:
            log.debug("thanking for feedback failed: %s", exc.response.get("error"))
