"""Deep Research from Slack: start a run bound to a thread, show status, cancel. Delivery is in delivery.py."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from server.core.domain import Origin
from server.core.errors import Forbidden, GeminiInteractionsError, ResearchNotFound
from server.core.store import PendingStart

from .home import job_links
from .render import research_pending_message, status_detail, status_list, topic_line

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


def pending_start_timeout(bot: SlackBot) -> float:
    """After this long a start whose run was never recorded was cut short (a live one is done by then)."""
    return max(3.0, 3 * bot.core.settings.research_create_timeout_seconds)


async def report_interrupted_starts(bot: SlackBot) -> int:
    """Tell the users whose run start was cut short by a crash (of any replica); returns how many."""
    told = 0
    for start in await bot.store.stale_pending_starts(pending_start_timeout(bot)):
        text = (
            f":warning: <@{start.user_id}>, the research run *{topic_line(start.topic)}* did not start: the bot "
            "stopped while starting it. Start it again with `/gemini research <topic>`."
        )
        try:
            await bot.client.chat_update(channel=start.channel_id, ts=start.message_ts, text=text, blocks=[])
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error not in ("message_not_found", "channel_not_found", "cant_update_message", "is_archived"):
                log.warning("telling %s that its run did not start failed: %s", start.message_ts, error)
                continue  # retried at the next sweep
        await bot.store.remove_pending_start(start.team_id, start.channel_id, start.message_ts)
        log.warning("research run started from message %s was interrupted; told its user", start.message_ts)
        told += 1
    return told


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
