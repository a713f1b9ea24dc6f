"""Deep Research from Slack: start a run bound to a thread, show status, cancel. Delivery is in delivery.py."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from server.core.domain import Origin
from server.core.errors import Forbidden, GeminiInteractionsError, ResearchNotFound

from .home import job_links
from .render import research_pending_message, status_detail, status_list

if TYPE_CHECKING:
    from .bot import SlackBot

log = logging.getLogger(__name__)

STATUS_RUNS = 10


def not_found_text(interaction_id: str) -> str:
    return (
        f"No research run `{interaction_id}` is known in this workspace. "
        "`/gemini status` lists your runs; start one with `/gemini research <topic>`."
    )


async def start(
    bot: SlackBot, *, team_id: str, channel_id: str, user_id: str, topic: str, thread_ts: str | None
) -> None:
    """Post the 'research started' message (a new parent when ``thread_ts`` is None), then start the run.

    The report goes to ``thread_ts``, or to the thread of the started message itself.
    """
    client = bot.client
    posted = await client.chat_postMessage(
        channel=channel_id, thread_ts=thread_ts, **research_pending_message(user_id, topic)
    )
    message_ts = str(posted["ts"])
    origin = Origin(
        source="slack",
        owner=user_id,
        team_id=team_id,
        channel_id=channel_id,
        thread_ts=thread_ts or message_ts,
        message_ts=message_ts,
    )
    try:
        job = await bot.core.research.start(topic, origin=origin)
    except GeminiInteractionsError as exc:
        await client.chat_update(
            channel=channel_id, ts=message_ts, text=f":warning: The research run could not start: {exc}"
        )
        return
    await bot.started_messages.refresh(job.interaction_id)  # the Home tab follows the 'started' event


async def status_text(bot: SlackBot, *, team_id: str, user_id: str, interaction_id: str | None) -> str:
    viewer = bot.viewer(team_id, user_id)
    if interaction_id:
        try:
            job = await bot.core.research.get(interaction_id, viewer=viewer)
        except ResearchNotFound:
            return not_found_text(interaction_id)
        links = await job_links(bot, [job])
        return status_detail(job, links[job.interaction_id])
    jobs = await bot.core.research.list(viewer=viewer, limit=STATUS_RUNS)
    return status_list(jobs, await job_links(bot, jobs))


async def cancel_text(bot: SlackBot, *, team_id: str, user_id: str, interaction_id: str) -> str:
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
        return f":warning: {exc}"
    if job.status == "cancelled":
        return f"Cancelled research run `{job.interaction_id}`."
    return f"Research run `{job.interaction_id}` ended ({job.status}) before it could be cancelled."
