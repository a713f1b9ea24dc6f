"""What a message addressed to the bot asks for: research (a leading ``research``) or an answer."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .. import conversation, research_runs

if TYPE_CHECKING:
    from ..bot import SlackBot

_RESEARCH = re.compile(r"^\s*research\b[:\s]*(?P<topic>.*)$", re.IGNORECASE | re.DOTALL)


def research_topic(text: str) -> str | None:
    match = _RESEARCH.match(text)
    return match.group("topic").strip() if match and match.group("topic").strip() else None


def take_turn(bot: SlackBot, turn: conversation.Turn, set_status: conversation.SetStatus | None) -> None:
    topic = research_topic(turn.text) if not turn.files else None
    if topic:
        bot.spawn(
            research_runs.start(
                bot,
                team_id=turn.team_id,
                channel_id=turn.channel_id,
                user_id=turn.user_id,
                topic=topic,
                thread_ts=turn.thread_ts,
            ),
            name="research from a message",
        )
    else:
        bot.spawn(conversation.answer(bot, turn, set_status=set_status), name="answer in thread")
