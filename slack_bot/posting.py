"""Posting answers, images and errors into a thread, within Slack's limits."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from server.core import GeneratedImage

from .markdown import TEXT_LIMIT, markdown_message, plan_answer, truncate
from .neutralise import neutralise

log = logging.getLogger(__name__)

TOO_LONG = frozenset({"msg_too_long", "msg_blocks_too_long", "invalid_blocks"})
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


async def post_text(client: AsyncWebClient, channel: str, thread_ts: str | None, text: str) -> str:
    """A short mrkdwn message (errors, notices; neutralised, as they may quote Gemini); returns its ts."""
    response = await client.chat_postMessage(
        channel=channel, thread_ts=thread_ts, text=truncate(neutralise(text), TEXT_LIMIT), unfurl_links=False
    )
    return str(response["ts"])


async def upload_markdown(
    client: AsyncWebClient, channel: str, thread_ts: str, markdown: str, *, filename: str, title: str
) -> None:
    await client.files_upload_v2(
        channel=channel, thread_ts=thread_ts, content=markdown, filename=filename, title=title
    )


def with_blocks(message: dict[str, Any], blocks: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``message`` with ``blocks`` (feedback buttons) after its own."""
    return {**message, "blocks": [*message["blocks"], *blocks]} if blocks else message


async def post_parts(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str,
    parts: Sequence[str],
    blocks: list[dict[str, Any]] | None,
    posted: list[str],
) -> None:
    """Markdown messages in the thread, in order, ``blocks`` under the last; each ts is added to ``posted`` as
    it is sent, so that a caller that meets an error half-way knows what is already there."""
    for n, part in enumerate(parts, 1):
        message = markdown_message(part)
        if n == len(parts):
            message = with_blocks(message, blocks)
        response = await client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)
        posted.append(str(response["ts"]))


async def post_answer(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> list[str]:
    """An answer in the thread: up to three markdown messages, or a short intro and the whole as a file;
    ``blocks`` (feedback buttons) under the last message.

    The messages are cut from the neutralised answer (it can be longer), so that each still fits; a file's
    content is not read for control sequences, so the file holds the answer as Gemini wrote it.
    """
    plan = plan_answer(neutralise(text))
    posted: list[str] = []
    if plan.parts:
        try:
            await post_parts(client, channel, thread_ts, plan.parts, blocks, posted)
            return posted
        except SlackApiError as exc:
            if exc.response.get("error") not in TOO_LONG:
                raise
            log.warning(
                "Slack refused an answer part (%s); sending the whole answer as a file",
                exc.response.get("error"),
            )
            title = "Answer (whole)" if posted else "Answer"
            await upload_markdown(client, channel, thread_ts, text.strip(), filename="answer.md", title=title)
            return posted
    assert plan.intro is not None
    message = with_blocks(markdown_message(plan.intro), blocks)
    response = await client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)
    posted.append(str(response["ts"]))
    await upload_markdown(client, channel, thread_ts, text.strip(), filename="answer.md", title="Answer")
    return posted


async def post_images(
    client: AsyncWebClient, channel: str, thread_ts: str, images: tuple[GeneratedImage, ...], prompt: str
) -> None:
    for n, image in enumerate(images, 1):
        extension = _EXTENSIONS.get(image.mime_type, "png")
        await client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            file=image.data,
            filename=f"gemini-image-{n}.{extension}",
            title=truncate(prompt, 100),
            alt_txt=truncate(prompt, 1000),
        )


# Shown in turn under the status while Gemini works (assistant.threads.setStatus: at most 10).
LOADING_MESSAGES = (
    "Reading your message…",
    "Asking Gemini…",
    "Gemini is writing…",
)


async def set_loading(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str,
    status: str = "is thinking…",
    loading_messages: tuple[str, ...] = LOADING_MESSAGES,
) -> Any:
    """Slack's loading indicator in a thread (assistant.threads.setStatus); harmless where unsupported."""
    try:
        return await client.assistant_threads_setStatus(
            channel_id=channel,
            thread_ts=thread_ts,
            status=status,
            loading_messages=list(loading_messages) or None,
        )
    except SlackApiError as exc:
        log.debug("setStatus unavailable here: %s", exc.response.get("error"))
        return None


async def clear_status(client: AsyncWebClient, channel: str, thread_ts: str) -> None:
    """Clear the status: a message we post clears it, an uploaded file does not."""
    try:
        await client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status="")
    except SlackApiError as exc:
        log.debug("clearing the status failed: %s", exc.response.get("error"))
