"""Follow every research job change (from any process) and act on the ones started from Slack."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from server.core.research import slack_destination

if TYPE_CHECKING:
    from server.core.service import JobEvent

    from .bot import SlackBot

log = logging.getLogger(__name__)


async def watch_job_events(bot: SlackBot) -> None:
    """Runs for the bot's lifetime (supervised: restarted if the subscription breaks)."""
    async with bot.core.research.events() as events:
        log.info("following research events")
        # Anything that finished while we were not listening is picked up by the delivery sweep.
        async for event in events:
            handle(bot, event)


def handle(bot: SlackBot, event: JobEvent) -> None:
    job = event.job
    origin = job.origin
    if origin.source != "slack":
        return
    if event.kind == "progress" and not job.terminal:
        bot.started_messages.progressed(job.interaction_id)
        return
    if event.kind == "finished" or job.terminal:
        destination = slack_destination(origin)
        if destination:
            bot.deliveries.schedule(job.interaction_id, destination)
        else:
            bot.spawn(
                bot.started_messages.refresh(job.interaction_id), name=f"final edit {job.interaction_id}"
            )
    if event.kind in ("started", "finished") and origin.team_id and origin.owner:
        bot.home.job_changed(origin.team_id, origin.owner, job.interaction_id, event.kind)
