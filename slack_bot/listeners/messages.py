"""Messages without a mention: every DM, and replies in channel threads the bot already answers in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from .. import conversation
from .dispatch import take_turn
from .mentions import strip_mentions

if TYPE_CHECKING:
    from ..bot import SlackBot

# Edits, deletions, joins and the like are not questions; a shared file or a broadcast reply is.
ANSWERED_SUBTYPES = (None, "file_share", "thread_broadcast")


def register(app: AsyncApp, bot: SlackBot) -> None:
    @app.event("message")
    async def message(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("subtype") not in ANSWERED_SUBTYPES or event.get("bot_id") or not event.get("user"):
            return
        team_id = context.team_id or body.get("team_id", "")
        channel = event["channel"]
        text = event.get("text", "")
        direct = event.get("channel_type") == "im"
        thread_ts = event.get("thread_ts") or (event["ts"] if direct else None)
        if not thread_ts:
            return  # top-level channel chatter: only mentions are for us
        if not direct and context.bot_user_id and f"<@{context.bot_user_id}" in text:
            return  # the app_mention event of this same message answers it
        turn = conversation.Turn(
            team_id=team_id,
            channel_id=channel,
            thread_ts=thread_ts,
            user_id=event["user"],
            text=strip_mentions(text, context.bot_user_id),
            files=list(event.get("files") or []),
        )
        take_turn(bot, turn, body, context.get("set_status"), only_in_known_thread=not direct)
