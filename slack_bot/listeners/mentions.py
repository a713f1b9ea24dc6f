"""``@Gemini …`` in a channel: answer in a thread (the message's own, or the thread it was posted in)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from .. import conversation
from .dispatch import take_turn

if TYPE_CHECKING:
    from ..bot import SlackBot


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """The message without the leading mention of the bot (other people's mentions stay)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text, count=1)
    return text.strip()


def register(app: AsyncApp, bot: SlackBot) -> None:
    @app.event("app_mention")
    async def mentioned(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("bot_id") or not event.get("user"):
            return
        turn = conversation.Turn(
            team_id=context.team_id or body.get("team_id", ""),
            channel_id=event["channel"],
            thread_ts=event.get("thread_ts") or event["ts"],
            user_id=event["user"],
            text=strip_mentions(event.get("text", ""), context.bot_user_id),
            files=list(event.get("files") or []),
        )
        take_turn(bot, turn, body, context.get("set_status"))
