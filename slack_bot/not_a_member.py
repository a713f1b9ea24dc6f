"""``/gemini`` where the bot is not a member: a direct message or group DM between people (nobody can add a bot
there), or a channel nobody invited it to.

Slack refuses the bot's own posts there (``chat.postMessage`` answers ``channel_not_found`` in conversations it
is not part of, ``not_in_channel`` in public channels), but the command's ``response_url`` works without
membership: up to 5 messages within 30 minutes (docs.slack.dev/interactivity/handling-user-interaction, "Message
responses"). A question is answered through it, visibly to the conversation as it would be in a channel, with a
word on what works better; an image or a research run needs a thread the bot can post into, so the user is told
where to ask instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.context.respond.async_respond import AsyncRespond

from server.core import GeminiInteractionsError

from .markdown import SUMMARY_CHARS, TEXT_LIMIT, first_paragraphs, markdown_message, plan_answer, truncate
from .neutralise import neutralise

if TYPE_CHECKING:
    from .bot import SlackBot

HEAD_CHARS = 2_900  # a section block's text (Slack: 3,000)


def between_people(command: dict[str, Any]) -> bool:
    """A DM or group DM (Slack names those ``directmessage`` and ``mpdm-…`` in a command's payload)."""
    name = str(command.get("channel_name") or "")
    return (
        str(command.get("channel_id", "")).startswith("D")
        or name == "directmessage"
        or name.startswith("mpdm-")
    )


def what_works(command: dict[str, Any]) -> str:
    if between_people(command):
        return (
            "I'm not part of this conversation, and apps can't be added to a direct message between people, so "
            "I can't keep a thread here. For a conversation that remembers, send me a direct message, or use "
            "`/gemini` in a channel I'm in."
        )
    return (
        "I'm not a member of this channel, so I can't keep a thread here. Add me (`/invite @Gemini`) to get "
        "answers in threads you can continue, or send me a direct message."
    )


def refusal(sub: str, command: dict[str, Any]) -> str:
    """For what needs a thread the bot can post into (images, research)."""
    what = {"image": "post the picture", "research": "post the research report"}.get(sub, "answer")
    return f"I can't {what} here. {what_works(command)}"


async def answer_in_place(
    bot: SlackBot, command: dict[str, Any], question: str, respond: AsyncRespond
) -> None:
    """Ask Gemini and answer through the command's response_url: at most 3 messages, the last with the note."""
    try:
        result = await bot.core.ask(
            question, caller=bot.viewer(command.get("team_id"), command.get("user_id"))
        )
    except GeminiInteractionsError as exc:
        await respond(text=neutralise(f":warning: {exc}"), response_type="ephemeral")
        return
    answer = result.text + (f"\n\n_{result.incomplete}_" if result.incomplete else "")
    safe = neutralise(answer)
    parts = list(plan_answer(safe).parts) or [
        truncate(first_paragraphs(safe, SUMMARY_CHARS), SUMMARY_CHARS)
        + "\n\n_The answer is too long to post here in full: ask me in a direct message to get it as a file._"
    ]
    head = truncate(f"<@{command['user_id']}> asked: {neutralise(question)}", HEAD_CHARS)
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": what_works(command)}]}
    for n, part in enumerate(parts):
        message = markdown_message(part)
        blocks: list[dict[str, Any]] = list(message["blocks"])
        if n == 0:
            blocks.insert(0, {"type": "section", "text": {"type": "mrkdwn", "text": head}})
            message["text"] = truncate(f"{head}\n{message['text']}", TEXT_LIMIT)
        if n == len(parts) - 1:
            blocks.append(note)
        await respond(
            text=message["text"],
            blocks=blocks,
            response_type="in_channel",
            replace_original=False,
            unfurl_links=False,
            unfurl_media=False,
        )
