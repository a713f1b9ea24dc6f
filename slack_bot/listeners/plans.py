"""The buttons of a proposed research plan (Run it, Change…, Cancel) and the Change… modal's submission."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from .. import plan_actions
from ..plan_view import (
    BRIEF_BLOCK,
    CANCEL_ACTION,
    CHANGE_ACTION,
    CHANGE_VIEW,
    RUN_ACTION,
    changes_from,
    submitted_brief,
)

if TYPE_CHECKING:
    from ..bot import SlackBot


def _who(body: dict[str, Any]) -> tuple[str | None, str | None]:
    user = body.get("user") or {}
    return user.get("team_id") or (body.get("team") or {}).get("id"), user.get("id")


def _privately(respond: AsyncRespond) -> plan_actions.Reply:
    async def reply(text: str) -> None:
        await respond(text=text, response_type="ephemeral", replace_original=False)

    return reply


def register(app: AsyncApp, bot: SlackBot) -> None:
    @app.action(RUN_ACTION)
    async def run_it(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        team_id, user_id = _who(body)
        job_id = action.get("value", "")
        bot.spawn_once(
            body, plan_actions.run(bot, team_id, user_id, job_id, _privately(respond)), name="run a plan"
        )

    @app.action(CHANGE_ACTION)
    async def change(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        team_id, user_id = _who(body)
        # Not a background task: the modal must open within the trigger_id's 3 seconds. (A replayed click needs
        # no dedupe: Slack opens one view per trigger_id.)
        await plan_actions.open_change(
            bot, team_id, user_id, action.get("value", ""), body.get("trigger_id", ""), _privately(respond)
        )

    @app.action(CANCEL_ACTION)
    async def cancel(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        team_id, user_id = _who(body)
        job_id = action.get("value", "")
        bot.spawn_once(
            body, plan_actions.cancel(bot, team_id, user_id, job_id, _privately(respond)), name="drop a plan"
        )

    @app.view(CHANGE_VIEW)
    async def submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        brief = submitted_brief(view)
        if not brief:
            await ack(response_action="errors", errors={BRIEF_BLOCK: "Write the brief, or close this form."})
            return
        await ack()
        team_id, user_id = _who(body)
        job_id = str(view.get("private_metadata") or "")
        bot.spawn_once(body, _run_changed(bot, team_id, user_id, job_id, brief), name="run a changed plan")


async def _run_changed(
    bot: SlackBot, team_id: str | None, user_id: str | None, job_id: str, brief: str
) -> None:
    """Run the plan with the edited brief; what goes wrong is told privately in the run's thread."""
    job = await bot.core.store.get_job(job_id)
    origin = job.origin if job is not None else None

    async def reply(text: str) -> None:
        if origin is None or not origin.channel_id or not user_id:
            return
        await bot.client.chat_postEphemeral(
            channel=origin.channel_id, user=user_id, thread_ts=origin.thread_ts, text=text
        )

    changes = changes_from(job, brief) if job is not None else brief
    await plan_actions.run(bot, team_id, user_id, job_id, reply, changes=changes)
