"""A turn of conversation in a Slack thread: files in, Gemini's answer (or image) out, thread remembered.

The thread → latest interaction id map lives in our store, so a reply continues the conversation on Gemini's
side with ``previous_interaction_id``; we never re-read the thread (conversations.replies) to rebuild context.

While Gemini thinks, the thread shows Slack's status with a few ``loading_messages``; the answer then streams in
(``answer_stream.py``), with the feedback buttons under it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from slack_sdk.errors import SlackApiError

from server.core import Answer, AttachmentError, GeminiInteractionsError, InteractionExpired, Origin

from .answer_stream import AnswerWriter
from .connect_files import complete_file_objects
from .feedback import feedback_blocks
from .files import fetch_attachments
from .posting import LOADING_MESSAGES, clear_status, post_answer, post_images, post_text, set_loading

if TYPE_CHECKING:
    from .bot import SlackBot

log = logging.getLogger(__name__)

SetStatus = Callable[..., Awaitable[Any]]
EXPIRED_NOTE = (
    "_I could not find our earlier conversation (it may have expired), so this answer starts afresh._"
)


@dataclass(frozen=True, slots=True)
class Turn:
    team_id: str
    channel_id: str
    thread_ts: str
    user_id: str
    text: str
    files: list[dict[str, Any]] = field(default_factory=list)


def error_text(exc: GeminiInteractionsError) -> str:
    return f":warning: {exc}"


async def _loading(bot: SlackBot, turn: Turn, set_status: SetStatus | None) -> None:
    if set_status is None:
        await set_loading(bot.client, turn.channel_id, turn.thread_ts)
        return
    try:
        await set_status(status="is thinking…", loading_messages=list(LOADING_MESSAGES))
    except SlackApiError as exc:
        log.debug("set_status unavailable here: %s", exc.response.get("error"))


async def answer(bot: SlackBot, turn: Turn, *, set_status: SetStatus | None = None) -> None:
    """Ask Gemini with the thread's history and post the answer in the thread."""
    client = bot.client
    await _loading(bot, turn, set_status)
    try:
        files = await complete_file_objects(client, turn.files)
        attachments = await fetch_attachments(files, token=bot.config.bot_token, api_url=bot.config.api_url)
    except AttachmentError as exc:
        await post_text(client, turn.channel_id, turn.thread_ts, f":warning: {exc}")
        return
    text = turn.text.strip() or ("Describe the attached file." if attachments else "")
    if not text:
        await post_text(
            client, turn.channel_id, turn.thread_ts, "What would you like to ask? (`/gemini help`)"
        )
        return
    previous = await bot.store.get_thread(turn.team_id, turn.channel_id, turn.thread_ts)
    caller = bot.viewer(turn.team_id, turn.user_id)
    writer = AnswerWriter(
        client,
        channel=turn.channel_id,
        thread_ts=turn.thread_ts,
        team_id=turn.team_id,
        user_id=turn.user_id,
        stream=bot.config.stream_answers,
    )
    note = ""
    try:
        try:
            result = await _written(bot, writer, text, attachments, previous, caller)
        except InteractionExpired:
            if not previous:
                raise
            note = EXPIRED_NOTE + "\n\n"
            writer.prepend(note)
            result = await _written(bot, writer, text, attachments, None, caller)
    except GeminiInteractionsError as exc:
        await writer.fail(error_text(exc))
        return
    # Remembered before the answer ends, so that a reply typed the moment it appears continues from it.
    await bot.store.set_thread(turn.team_id, turn.channel_id, turn.thread_ts, result.interaction_id)
    ending = f"\n\n_{result.incomplete}_" if result.incomplete else ""
    await writer.finish(note + result.text + ending, feedback_blocks(result.interaction_id))


async def _written(
    bot: SlackBot,
    writer: AnswerWriter,
    text: str,
    attachments: list[Any],
    previous: str | None,
    caller: Origin,
) -> Answer:
    """Gemini's answer, handed to ``writer`` as it is written (sent, paced, by the writer's own task)."""
    result: Answer | None = None
    failure: GeminiInteractionsError | None = None
    writer.open()
    async with anyio.create_task_group() as group:
        group.start_soon(writer.run)
        try:
            result = await bot.core.ask(
                text,
                attachments=attachments,
                previous_interaction_id=previous,
                caller=caller,
                on_piece=writer.feed,
            )
        except GeminiInteractionsError as exc:  # raised outside the group, not wrapped in an ExceptionGroup
            failure = exc
        finally:
            writer.close()
    if failure is not None:
        raise failure
    assert result is not None
    return result


async def draw(bot: SlackBot, turn: Turn) -> None:
    """Generate an image (refining the thread's last one, if any) and upload it into the thread."""
    client = bot.client
    await set_loading(client, turn.channel_id, turn.thread_ts, "is drawing…", ("Gemini is drawing…",))
    previous = await bot.store.get_thread(turn.team_id, turn.channel_id, turn.thread_ts)
    try:
        result = await bot.core.generate_image(
            turn.text, previous_interaction_id=previous, caller=bot.viewer(turn.team_id, turn.user_id)
        )
    except GeminiInteractionsError as exc:
        await post_text(client, turn.channel_id, turn.thread_ts, error_text(exc))
        return
    answer_ = result.answer
    await bot.store.set_thread(turn.team_id, turn.channel_id, turn.thread_ts, answer_.interaction_id)
    if not answer_.images:
        reply = answer_.text.strip() or "Gemini returned no image. Try describing the picture differently."
        await post_answer(client, turn.channel_id, turn.thread_ts, reply)
    else:
        await post_images(client, turn.channel_id, turn.thread_ts, answer_.images, turn.text)
        if answer_.text.strip():
            await post_answer(client, turn.channel_id, turn.thread_ts, answer_.text)
        await clear_status(client, turn.channel_id, turn.thread_ts)  # an upload does not clear it
