"""The Cancel button on a "research started" message, and the feedback buttons under an answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from .. import feedback, research_runs
from ..render import CANCEL_ACTION

if TYPE_CHECKING:
    from ..bot import SlackBot


def register(app: AsyncApp, bot: SlackBot) -> None:
    @app.action(feedback.FEEDBACK_ACTION)
    async def feedback_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        bot.spawn_once(body, feedback.record(bot, body, action), name="feedback button")  # a replay: once

    @app.action(CANCEL_ACTION)
    async def cancel_button(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        user = body.get("user") or {}
        team_id = user.get("team_id") or (body.get("team") or {}).get("id")
        bot.spawn_once(
            body, cancel(bot, team_id, user.get("id"), action.get("value", ""), respond), name="cancel button"
        )


async def cancel(
    bot: SlackBot, team_id: str | None, user_id: str | None, interaction_id: str, respond: AsyncRespond
) -> None:
    text = await research_runs.cancel_text(
        bot, team_id=team_id, user_id=user_id, interaction_id=interaction_id
    )
    await respond(text=text, response_type="ephemeral", replace_original=False)
