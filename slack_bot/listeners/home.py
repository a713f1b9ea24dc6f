"""The App Home tab, published when a user opens it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

if TYPE_CHECKING:
    from ..bot import SlackBot


def register(app: AsyncApp, bot: SlackBot) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("tab", "home") != "home":
            return
        bot.home.refresh(context.team_id or body.get("team_id", ""), event["user"])
