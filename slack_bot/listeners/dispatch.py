"""From an event to a turn: drop duplicates and threads we are not part of, then research or answer.

Runs after the ack, in a tracked task: the checks need the store, and an ack must not wait for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from typing import TYPE_CHECKING, Any

from .. import conversation, research_runs
from ..plan_view import plan_flag
from ..posting import post_text
from ..render import SORRY

if TYPE_CHECKING:
    from ..bot import SlackBot

log = logging.getLogger(__name__)

_RESEARCH = re.compile(r"^\s*research\b[:\s]*(?P<topic>.*)$", re.IGNORECASE | re.DOTALL)


def research_topic(text: str) -> str | None:
    match = _RESEARCH.match(text)
    return match.group("topic").strip() if match and match.group("topic").strip() else None


def take_turn(
    bot: SlackBot,
    turn: conversation.Turn,
    body: dict[str, Any],
    set_status: conversation.SetStatus | None,
    *,
    only_in_known_thread: bool = False,
) -> None:
    bot.spawn(_turn(bot, turn, body, set_status, only_in_known_thread), name="turn from an event")


async def _turn(
    bot: SlackBot,
    turn: conversation.Turn,
    body: dict[str, Any],
    set_status: conversation.SetStatus | None,
    only_in_known_thread: bool,
) -> None:
    if (
        only_in_known_thread
        and await bot.store.get_thread(turn.team_id, turn.channel_id, turn.thread_ts) is None
    ):
        return  # a thread we are not part of
    if not await bot.first_time(body):
        return  # Slack's retry, or the same event again
    turn = dataclasses.replace(turn, text=await bot.readable(turn.text))
    topic = research_topic(turn.text) if not turn.files else None
    async with bot.turn_slots:
        try:
            if topic:
                plan_first, topic = plan_flag(topic, default=bot.config.research_plan_first)
                await research_runs.start(
                    bot,
                    team_id=turn.team_id,
                    channel_id=turn.channel_id,
                    user_id=turn.user_id,
                    topic=topic,
                    thread_ts=turn.thread_ts,
                    plan_first=plan_first,
                )
            else:
                await conversation.answer(bot, turn, set_status=set_status)
        except Exception:
            log.exception("answering in %s/%s failed", turn.channel_id, turn.thread_ts)
            with contextlib.suppress(Exception):
                await post_text(bot.client, turn.channel_id, turn.thread_ts, SORRY)
