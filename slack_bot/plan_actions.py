"""What the buttons of a proposed plan do: Run it (approve as planned), Change… (a modal that edits the brief,
then approve with the changes) and Cancel. Only the person who started the run may press them; a click on a
plan that no longer waits (already run, cancelled) says so. Two clicks at once run it once: the core's approval
is a single conditional update in the store."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from server.core import (
    GeminiInteractionsError,
    NotAwaitingApproval,
    ResearchJob,
    ResearchNotFound,
    StartUnknown,
)

from .neutralise import neutralise
from .plan_view import change_modal, not_waiting_text, only_starter
from .research_runs import not_found_text

if TYPE_CHECKING:
    from .bot import SlackBot

log = logging.getLogger(__name__)

#: Tells the person who clicked something, privately.
Reply = Callable[[str], Awaitable[None]]


async def _own_job(
    bot: SlackBot, team_id: str | None, user_id: str | None, job_id: str, verb: str, reply: Reply
) -> ResearchJob | None:
    """The job, when the clicking user may act on it; else tell them why not and return None."""
    try:
        job = await bot.core.research.get(job_id, viewer=bot.viewer(team_id, user_id))
    except ResearchNotFound:
        await reply(not_found_text(job_id))
        return None
    if job.origin.slack_user != user_id:
        await reply(only_starter(job, verb))
        return None
    return job


async def run(
    bot: SlackBot,
    team_id: str | None,
    user_id: str | None,
    job_id: str,
    reply: Reply,
    *,
    changes: str | None = None,
) -> None:
    """Run it (``changes``: from the Change… modal)."""
    job = await _own_job(bot, team_id, user_id, job_id, "run", reply)
    if job is None:
        return
    try:
        job = await bot.core.research.approve(job_id, viewer=bot.viewer(team_id, user_id), changes=changes)
    except NotAwaitingApproval as exc:
        await reply(not_waiting_text(exc))
        return
    except (
        StartUnknown
    ) as exc:  # it may have started: the job says so (start_unknown), its plan cannot run again
        await reply(neutralise(f":warning: {exc}"))
        await bot.started_messages.refresh(job_id)
        return
    except GeminiInteractionsError as exc:
        await reply(
            neutralise(f":warning: The research could not start: {exc} The plan still waits for you.")
        )
        return
    await bot.started_messages.refresh(job.interaction_id)


async def open_change(
    bot: SlackBot, team_id: str | None, user_id: str | None, job_id: str, trigger_id: str, reply: Reply
) -> None:
    """Change…: open the modal at once (a trigger_id is good for 3 seconds)."""
    job = await _own_job(bot, team_id, user_id, job_id, "change", reply)
    if job is None:
        return
    if not job.awaiting_approval:
        await reply(not_waiting_text(_not_waiting(job)))
        return
    try:
        await bot.client.views_open(trigger_id=trigger_id, view=change_modal(job))
    except SlackApiError as exc:
        log.warning("opening the plan modal of %s failed: %s", job_id, exc.response.get("error"))
        await reply(":warning: Slack did not open the form in time. Press *Change…* again.")


async def cancel(bot: SlackBot, team_id: str | None, user_id: str | None, job_id: str, reply: Reply) -> None:
    job = await _own_job(bot, team_id, user_id, job_id, "cancel", reply)
    if job is None:
        return
    if job.terminal:
        await reply(not_waiting_text(_not_waiting(job)))
        return
    try:
        job = await bot.core.research.cancel(job_id, viewer=bot.viewer(team_id, user_id))
    except GeminiInteractionsError as exc:
        await reply(f":warning: {exc}")
        return
    if job.status == "cancelled":
        await reply(
            "Cancelled: nothing was researched." if job.run_id is None else "Cancelled the research run."
        )
    else:
        await reply(f"The research run ended ({job.status}) before it could be cancelled.")
    await bot.started_messages.refresh(job.interaction_id)


def _not_waiting(job: ResearchJob) -> NotAwaitingApproval:
    return NotAwaitingApproval("", status=job.status, approved=job.approved_at is not None)
