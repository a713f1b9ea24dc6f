"""Research runs whose start was cut short (the process stopped while Gemini was starting them): their users
are told so, once, by whichever replica's sweep finds them first, and their App Home lists the run as
``start_unknown``.

A start is recorded as pending before Gemini is asked (``research_runs.start``) and forgotten once the run is
recorded; a pending start older than any live start can be was interrupted. Whether Gemini started the run is
not known (its answer was never recorded), so the user is told just that, and to check their usage first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from server.core import USAGE_HELP

from .home import HomeTab
from .render import topic_line

if TYPE_CHECKING:
    from server.core import Core

log = logging.getLogger(__name__)

GONE = frozenset({"message_not_found", "channel_not_found", "cant_update_message", "is_archived"})


class _Bot(Protocol):
    """What this module uses of the bot."""

    @property
    def core(self) -> Core: ...

    @property
    def client(self) -> AsyncWebClient: ...

    @property
    def home(self) -> HomeTab: ...


def pending_start_timeout(bot: _Bot) -> float:
    """After this long a start whose run was never recorded was cut short (a live one is done by then)."""
    return bot.core.settings.research_start_window_seconds


def interrupted_text(user_id: str, topic: str) -> str:
    return (
        f":warning: <@{user_id}>, the bot stopped while starting the research run *{topic_line(topic)}*, before "
        "Gemini's answer was recorded: it may have started at Gemini all the same, and been billed. It is listed "
        f"in your App Home as start unknown. {USAGE_HELP} (`/gemini research <topic>`)"
    )


async def report_interrupted_starts(bot: _Bot) -> int:
    """Tell the users whose run start was cut short by a crash (of any replica); returns how many."""
    await bot.core.research.settle_starts()  # the cut-short starts become start_unknown jobs first
    told = 0
    for start in await bot.core.store.stale_pending_starts(pending_start_timeout(bot)):
        text = interrupted_text(start.user_id, start.topic)
        try:
            await bot.client.chat_update(channel=start.channel_id, ts=start.message_ts, text=text, blocks=[])
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error not in GONE:
                log.warning("telling %s that its run did not start failed: %s", start.message_ts, error)
                continue  # retried at the next sweep
        await bot.core.store.remove_pending_start(start.team_id, start.channel_id, start.message_ts)
        log.warning("research run started from message %s was interrupted; told its user", start.message_ts)
        bot.home.refresh(start.team_id, start.user_id)
        told += 1
    return told
