"""Deep Research from Slack: start a run bound to a thread, show status, cancel. Delivery is in delivery.py."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from server.core import (
    Forbidden,
    GeminiInteractionsError,
    Origin,
    PendingStart,
    ResearchNotFound,
    StartUnknown,
    slack_owner,
)

from .destinations import thread_destination
from .home import job_links
from .neutralise import neutralise
from .render import RESEARCH_NOT_ALLOWED, research_pending_message, status_detail, status_list

if TYPE_CHECKING:
    from .bot import SlackBot

log = logging.getLogger(__name__)

STATUS_RUNS = 10

Tell = Callable[[str], Awaitable[Any]]


def not_found_text(interaction_id: str) -> str:
    return (
        f"No research run `{interaction_id}` is known in this workspace. "
        "`/gemini status` lists your runs; start one with `/gemini research <topic>`."
    )


async def refusal(bot: SlackBot, *, team_id: str, channel_id: str, user_id: str) -> str | None:
    """Why this user may not start research here and now (SLACK_RESEARCH_ALLOWED, a limit), or None."""
    if not await bot.research_access.allows(user_id, channel_id):
        return RESEARCH_NOT_ALLOWED
    limit = await bot.core.research.refusal(bot.viewer(team_id, user_id))
    return f":no_entry: {limit}" if limit is not None else None


async def start(
    bot: SlackBot,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    topic: str,
    thread_ts: str | None,
    plan_first: bool = False,
    tell: Tell | None = None,
) -> None:
    """Post the 'research started' message (a new parent when ``thread_ts`` is None), then start the run.

    The report goes to ``thread_ts``, or to the thread of the started message itself. ``plan_first``: that
    message shows the agent's plan with Run it / Change… / Cancel before anything costly runs. A refused start
    is told to the user alone (``tell``, else an ephemeral message) and posts nothing in the channel.
    """
    client = bot.client
    refused = await refusal(bot, team_id=team_id, channel_id=channel_id, user_id=user_id)
    if refused is not None:
        if tell is not None:
            await tell(refused)
        else:
            await client.chat_postEphemeral(
                channel=channel_id, user=user_id, text=refused, thread_ts=thread_ts
            )
        return
    posted = await client.chat_postMessage(
        channel=channel_id, thread_ts=thread_ts, **research_pending_message(user_id, topic)
    )
    message_ts = str(posted["ts"])
    pending = PendingStart(team_id, channel_id, message_ts, user_id, topic, datetime.now(UTC))
    try:
        await bot.store.add_pending_start(pending)
    except Exception:
        log.exception("recording the start of a research run failed")
        await client.chat_update(
            channel=channel_id,
            ts=message_ts,
            text=":warning: The research run could not start: our database did not answer. Try again in a minute.",
        )
        return
    origin = Origin(
        source="slack",
        owner=slack_owner(team_id, user_id),
        team_id=team_id,
        channel_id=channel_id,
        thread_ts=thread_ts or message_ts,
        message_ts=message_ts,
    )
    try:
        job = await bot.core.research.start(
            topic,
            origin=origin,
            destinations=[thread_destination(team_id, channel_id, thread_ts or message_ts)],
            plan_first=plan_first,
        )
    except StartUnknown as exc:  # it may have started: say so, and list it (start_unknown) in the App Home
        await client.chat_update(
            channel=channel_id, ts=message_ts, text=f":warning: <@{user_id}>, {neutralise(str(exc))}"
        )
        await _forget_pending(bot, pending)
        bot.home.refresh(team_id, user_id)
        return
    except GeminiInteractionsError as exc:
        await client.chat_update(
            channel=channel_id,
            ts=message_ts,
            text=neutralise(f":warning: The research run could not start: {exc}"),
        )
        await _forget_pending(bot, pending)
        return
    await _forget_pending(bot, pending)
    await bot.started_messages.refresh(job.interaction_id)  # the Home tab follows the 'started' event


async def _forget_pending(bot: SlackBot, pending: PendingStart) -> None:
    try:
        await bot.store.remove_pending_start(pending.team_id, pending.channel_id, pending.message_ts)
    except (
        Exception
    ):  # the sweep removes it later: it finds the run recorded, or tells the user it did not start
        log.warning("forgetting the pending start of %s failed", pending.message_ts, exc_info=True)


async def status_text(bot: SlackBot, *, team_id: str, user_id: str, interaction_id: str | None) -> str:
    viewer = bot.viewer(team_id, user_id)
    if interaction_id:
        try:
            job = await bot.core.research.get(interaction_id, viewer=viewer)
        except ResearchNotFound:
            return not_found_text(interaction_id)
        links = await job_links(bot.workspace_url, [job])
        return status_detail(job, links[job.interaction_id])
    jobs = await bot.core.research.list(viewer=viewer, limit=STATUS_RUNS)
    return status_list(jobs, await job_links(bot.workspace_url, jobs))


async def cancel_text(bot: SlackBot, *, team_id: str | None, user_id: str | None, interaction_id: str) -> str:
    viewer = bot.viewer(team_id, user_id)
    try:
        job = await bot.core.research.get(interaction_id, viewer=viewer)
        if job.terminal:
            return f"Research run `{job.interaction_id}` had already ended ({job.status}); nothing to cancel."
        job = await bot.core.research.cancel(interaction_id, viewer=viewer)
    except ResearchNotFound:
        return not_found_text(interaction_id)
    except Forbidden as exc:
        return f":no_entry: {exc}"
    except GeminiInteractionsError as exc:
        return neutralise(f":warning: {exc}")
    if job.status == "cancelled":
        return f"Cancelled research run `{job.interaction_id}`."
    return f"Research run `{job.interaction_id}` ended ({job.status}) before it could be cancelled."
