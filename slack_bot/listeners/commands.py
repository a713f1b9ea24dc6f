"""``/gemini``: ack at once, then do the work in a tracked task (answers can take much longer than 3 s)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from server.core import NotReady

from .. import conversation, not_a_member, research_runs, usage
from ..markdown import truncate
from ..neutralise import neutralise
from ..plan_view import plan_flag
from ..render import HELP_TEXT, SORRY

if TYPE_CHECKING:
    from ..bot import SlackBot

log = logging.getLogger(__name__)

SUBCOMMANDS = ("research", "image", "status", "cancel", "usage", "help")
NOT_IN_CHANNEL = frozenset({"not_in_channel", "channel_not_found"})
PARENT_CHARS = 3_000


def parse(text: str) -> tuple[str, str]:
    """``"research TPUs"`` → ``("research", "TPUs")``; a plain question → ``("ask", question)``."""
    text = (text or "").strip()
    word, _, rest = text.partition(" ")
    if word.lower() in SUBCOMMANDS:
        return word.lower(), rest.strip()
    return ("help", "") if not text else ("ask", text)


def register(app: AsyncApp, bot: SlackBot) -> None:
    @app.command("/gemini")
    async def gemini(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        sub, rest = parse(command.get("text", ""))
        topic = plan_flag(rest, default=False)[1] if sub == "research" else rest  # "research --plan" alone
        if sub == "help" or (sub in ("research", "image", "cancel") and not topic):
            await ack(text=HELP_TEXT, response_type="ephemeral")
            return
        await ack()
        bot.spawn_once(command, run(bot, sub, rest, command, respond), name=f"/gemini {sub}")


async def run(bot: SlackBot, sub: str, rest: str, command: dict[str, Any], respond: AsyncRespond) -> None:
    rest = await bot.readable(rest)
    try:
        await _work(bot, sub, rest, command, respond)
    except SlackApiError as exc:
        if exc.response.get("error") in NOT_IN_CHANNEL:
            await _not_a_member(bot, sub, rest, command, respond)
            return
        log.exception("/gemini %s failed", sub)
        await respond(SORRY)
    except NotReady as exc:  # the job database is not open yet: say so, not "something went wrong"
        await respond(f":warning: {exc}")
    except Exception:
        log.exception("/gemini %s failed", sub)
        await respond(SORRY)


async def _work(bot: SlackBot, sub: str, rest: str, command: dict[str, Any], respond: AsyncRespond) -> None:
    team_id, channel_id, user_id = command["team_id"], command["channel_id"], command["user_id"]
    if sub == "status":
        await respond(
            await research_runs.status_text(bot, team_id=team_id, user_id=user_id, interaction_id=rest)
        )
    elif sub == "cancel":
        await respond(
            await research_runs.cancel_text(bot, team_id=team_id, user_id=user_id, interaction_id=rest)
        )
    elif sub == "usage":
        owner = bot.viewer(team_id, user_id).owner
        await respond(await usage.usage_text(bot.core, team_id=team_id, owner=owner))
    elif sub == "research":
        plan_first, topic = plan_flag(rest, default=bot.config.research_plan_first)
        await research_runs.start(
            bot,
            team_id=team_id,
            channel_id=channel_id,
            user_id=user_id,
            topic=topic,
            thread_ts=None,
            plan_first=plan_first,
            tell=respond,
        )
    else:
        verb = "asked for an image of" if sub == "image" else "asked"
        parent = await bot.client.chat_postMessage(
            channel=channel_id,
            text=truncate(f"<@{user_id}> {verb}: {neutralise(rest)}", PARENT_CHARS),
            unfurl_links=False,
        )
        turn = conversation.Turn(team_id, channel_id, str(parent["ts"]), user_id, rest)
        if sub == "image":
            await conversation.draw(bot, turn)
        else:
            await conversation.answer(bot, turn)


async def _not_a_member(
    bot: SlackBot, sub: str, rest: str, command: dict[str, Any], respond: AsyncRespond
) -> None:
    """Slack refused our post: we are not in this conversation (``not_a_member.py``)."""
    try:
        if sub == "ask":
            await not_a_member.answer_in_place(bot, command, rest, respond)
        else:
            await respond(not_a_member.refusal(sub, command))
    except Exception:
        log.exception("/gemini %s failed where the bot is not a member", sub)
        await respond(SORRY)
