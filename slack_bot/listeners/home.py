"""The App Home tab, published when a user opens it; the Messages tab, which shows suggested prompts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from ..suggestions import suggest

if TYPE_CHECKING:
    from ..bot import SlackBot


def register(app: AsyncApp, bot: SlackBot) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        tab = event.get("tab", "home")
        if tab == "messages":
            bot.spawn(
                suggest(bot.client, str(event.get("channel") or ""), bot.config.suggested_prompts),
                name="suggested prompts",
            )
            return
        if tab != "home":
            return
        bot.home.refresh(context.team_id or body.get("team_id", ""), event["user"])
