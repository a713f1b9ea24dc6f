"""An answer written into its thread as Gemini writes it.

Slack's chat streaming (``chat.startStream`` → ``appendStream`` → ``stopStream``, through slack_sdk's
``chat_stream``) shows the text as it grows, and the tools Gemini uses (search, code execution) as tasks of the
message's timeline (``task_update`` chunks). Where Slack refuses a stream (an older workspace, a stream that
expired) the answer falls back to post-then-edit: one message, edited as the text grows, then the rest posted.

Pacing: a writer task sends what arrived at most once per ``interval`` (the first text at once), so an answer
costs Slack about one call per half second however fast Gemini writes, and a slow Slack call never holds up
Gemini's stream (pieces just accumulate meanwhile).

What is sent is the neutralised accumulated text (``neutralise`` is prefix-stable: a ``<`` is ``&lt;`` as soon as
it arrives, so ``<!chan`` + ``nel>`` never reaches Slack whole); only an unfinished ``&lt;`` / ``&gt;`` at the
very end is held back, so each chunk holds whole entities. A message holds at most ``MARKDOWN_BUDGET``
characters: a longer answer ends its streamed message at a paragraph break and continues the way long answers
do (more messages, then the whole answer as a file). Feedback buttons go under the last message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import TaskUpdateChunk
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from server.core import AnswerPiece, TextPiece, ToolPiece

from .markdown import (
    MARKDOWN_BUDGET,
    MAX_INLINE_PARTS,
    cut_message,
    markdown_message,
    settled,
    split_markdown,
    truncate,
)
from .neutralise import neutralise
from .posting import TOO_LONG, post_answer, post_parts, post_text, upload_markdown, with_blocks

log = logging.getLogger(__name__)

STREAM_INTERVAL = 0.5  # seconds between two Slack calls of one streamed answer
EDIT_INTERVAL = 1.5  # post-then-edit: chat.update is Tier 3 (50+ per minute per workspace)
TOOL_TITLES = {
    "google_search": "Searching the web",
    "code_execution": "Running code",
    "url_context": "Reading the pages",
    "file_search": "Searching files",
    "google_maps": "Looking up places",
}


class AnswerWriter:
    """One answer's messages. ``feed`` takes pieces (never raises); ``run`` sends them, paced, until
    ``close``; then ``finish`` (the whole answer) or ``fail`` (an error) ends the answer."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        team_id: str,
        user_id: str,
        stream: bool = True,
        budget: int = MARKDOWN_BUDGET,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._team_id = team_id
        self._user_id = user_id
        self._budget = budget
        # stream; edit (a stream Slack refused: post, then edit); whole (SLACK_STREAM_ANSWERS=false: post at the end)
        self.mode = "stream" if stream else "whole"
        self._raw = ""
        self._tools: dict[str, ToolPiece] = {}  # tool pieces not sent yet, by call
        self._details: dict[str, str] = {}  # what each call was for (its query), kept for its later updates
        self._stream: AsyncChatStream | None = None
        self._ts: str | None = None  # the message being written
        self._start = 0  # where this message's text starts in the visible text
        self._sent = 0  # visible text shown so far (stream: appended; edit: the last edit's end)
        self._reopen = ""  # a code block the next message must reopen
        self._full = False  # the first message is full: the rest waits for finish
        self._changed = anyio.Event()
        self._closing = anyio.Event()
        self._closed = False
        self.calls = 0  # Slack calls made for this answer's text
        self._last_call: float | None = None

    # -- while Gemini writes ------------------------------------------------------------------------

    async def feed(self, piece: AnswerPiece) -> None:
        if self.mode == "whole":
            return
        if isinstance(piece, TextPiece):
            self._raw += piece.text
        elif self.mode == "stream":
            known = self._tools.get(piece.call_id)
            detail = piece.detail or self._details.get(piece.call_id) or (known.detail if known else None)
            if detail:
                self._details[piece.call_id] = detail
            self._tools[piece.call_id] = replace(piece, detail=detail)
        self._changed.set()

    def prepend(self, text: str) -> None:
        """Text shown before the answer (a note), before anything was sent."""
        self._raw = text + self._raw

    async def run(self) -> None:
        """Send what arrived, at most once per interval, until ``close``."""
        while True:
            await self._changed.wait()
            if not self._closed:
                with anyio.move_on_after(self._until_next_call()):
                    await self._closing.wait()
            if self._closed:
                return
            self._changed = anyio.Event()
            await self._flush()

    def _until_next_call(self) -> float:
        if self._last_call is None:
            return 0.0
        interval = STREAM_INTERVAL if self.mode == "stream" else EDIT_INTERVAL
        return max(0.0, self._last_call + interval - time.monotonic())

    @asynccontextmanager
    async def _call(self) -> AsyncIterator[None]:
        """One Slack call of this answer, once the interval since the end of the last one has passed."""
        await anyio.sleep(self._until_next_call())
        self.calls += 1
        try:
            yield
        finally:
            self._last_call = time.monotonic()

    def open(self) -> None:
        """Ready ``run`` to send again (a retried ask, after ``close``)."""
        self._closed = False
        self._closing = anyio.Event()
        self._changed = anyio.Event()

    def close(self) -> None:
        self._closed = True
        self._closing.set()
        self._changed.set()

    async def _flush(self) -> None:
        if self._full:
            return
        visible = settled(neutralise(self._raw))
        if self.mode == "stream":
            try:
                await self._append(visible)
                return
            except SlackApiError as exc:
                await self._fall_back(exc)
        try:
            await self._edit(visible)
        except SlackApiError as exc:  # the final answer still goes up in finish
            log.warning("editing a growing answer failed (%s)", exc.response.get("error"))
            self._full = True

    async def _append(
        self, visible: str, *, final: bool = False, blocks: list[dict[str, Any]] | None = None
    ) -> bool:
        """Send what is new; True when this message holds all of ``visible`` (False: it is full)."""
        end, close = len(visible), ""
        if len(visible) - self._start > self._budget:
            cut = cut_message(visible, self._sent, self._start + self._budget)
            end, close, self._reopen, self._full = cut.at, cut.close, cut.reopen, True
        text = visible[self._sent : end] + close
        chunks = [_task(piece) for piece in self._tools.values()]
        self._tools.clear()
        if self._stream is None:
            if not text and not chunks and not final:
                return True
            self._stream = await self._client.chat_stream(
                channel=self._channel,
                thread_ts=self._thread_ts,
                recipient_team_id=self._team_id,
                recipient_user_id=self._user_id,
                task_display_mode="timeline",
                buffer_size=1,
            )
        if final or self._full:
            async with self._call():
                response = await self._stream.stop(
                    markdown_text=text or None, chunks=chunks or None, blocks=None if self._full else blocks
                )
            self._ts = self._ts or str(response.get("ts") or "") or self._stream.ts
        elif text or chunks:
            async with self._call():
                await self._stream.append(markdown_text=text, chunks=chunks or None)
            self._ts = self._stream.ts
        self._sent = end
        return not self._full

    async def _fall_back(self, exc: SlackApiError) -> None:
        log.info(
            "Slack refused to stream this answer (%s); posting it and editing it instead",
            exc.response.get("error"),
        )
        self.mode = "edit"
        self._tools.clear()
        stream, self._stream = self._stream, None
        if stream is not None and stream.ts and exc.response.get("error") != "message_not_in_streaming_state":
            try:  # a stream left open cannot be edited (streaming_state_conflict)
                await self._client.chat_stopStream(channel=self._channel, ts=stream.ts)
            except SlackApiError as stop_exc:
                log.info("stopping the refused stream failed too (%s)", stop_exc.response.get("error"))

    async def _edit(self, visible: str, blocks: list[dict[str, Any]] | None = None) -> bool:
        """Post or edit the message with the text so far; True when it holds all of ``visible``."""
        end, close, reopen = len(visible), "", self._reopen
        if len(visible) - self._start > self._budget:
            cut = cut_message(visible, self._start, self._start + self._budget)
            end, close, self._reopen, self._full = cut.at, cut.close, cut.reopen, True
        part = reopen + visible[self._start : end] + close
        if not part.strip():
            return not self._full
        message = markdown_message(part)
        if blocks and not self._full:
            message = with_blocks(message, blocks)
        async with self._call():
            if self._ts is None:
                response = await self._client.chat_postMessage(
                    channel=self._channel, thread_ts=self._thread_ts, **message
                )
                self._ts = str(response["ts"])
            else:
                await self._client.chat_update(channel=self._channel, ts=self._ts, **message)
        self._sent = end
        return not self._full

    # -- the end -------------------------------------------------------------------------------------

    async def finish(self, answer: str, blocks: list[dict[str, Any]]) -> list[str]:
        """The whole answer (``answer``: as it should read, notes included) in the thread, ``blocks`` (the
        feedback buttons) under its last message; returns the ts of every message."""
        if self.mode == "whole":
            return await post_answer(self._client, self._channel, self._thread_ts, answer, blocks)
        raw = answer.rstrip() if answer.strip() else "_(Gemini returned no text.)_"
        visible = neutralise(raw)
        shown = settled(neutralise(self._raw))[: self._sent]
        if self._ts is not None and not visible.startswith(shown):
            # The answer reads differently from what was shown (it should not): leave that, post the answer.
            log.warning("a streamed answer differs from the final one; posting the final one after it")
            if self._stream is not None and not self._full:
                await self._stream.stop()
            return [self._ts, *await self._post_rest(visible, raw, blocks, already=0)]
        if self.mode == "stream" and not self._full:
            try:
                whole = await self._append(visible, final=True, blocks=blocks)
                if whole and self._ts:
                    return [self._ts]
            except SlackApiError as exc:
                await self._fall_back(exc)
        if self.mode == "edit" and not self._full and self._ts is not None:
            try:
                if await self._edit(visible, blocks):
                    return [self._ts]
            except SlackApiError as exc:
                log.warning("editing the answer failed (%s); posting the rest", exc.response.get("error"))
                self._full = True
        if self._ts is None:
            return await self._post_rest(visible, raw, blocks, already=0)
        rest = self._reopen + visible[self._sent :].lstrip("\n")
        return [self._ts, *await self._post_rest(rest, raw, blocks, already=1)]

    async def _post_rest(
        self, rest: str, raw: str, blocks: list[dict[str, Any]], *, already: int
    ) -> list[str]:
        parts = split_markdown(rest, self._budget) if rest.strip() else []
        posted: list[str] = []
        if not parts and already:
            return posted
        if parts and already + len(parts) <= MAX_INLINE_PARTS:
            try:
                await post_parts(self._client, self._channel, self._thread_ts, parts, blocks, posted)
                return posted
            except SlackApiError as exc:
                if exc.response.get("error") not in TOO_LONG:
                    raise
                log.warning(
                    "Slack refused an answer part (%s); sending it as a file", exc.response.get("error")
                )
        note = f"_The full answer ({len(raw):,} characters) is in the attached file._"
        response = await self._client.chat_postMessage(
            channel=self._channel, thread_ts=self._thread_ts, **with_blocks(markdown_message(note), blocks)
        )
        posted.append(str(response["ts"]))
        await upload_markdown(
            self._client, self._channel, self._thread_ts, raw, filename="answer.md", title="Answer"
        )
        return posted

    async def fail(self, text: str) -> None:
        """End the answer with an error (``text``, shown after whatever was written)."""
        note = neutralise(text)
        if self.mode == "stream" and self._stream is not None and not self._full:
            try:
                async with self._call():
                    await self._stream.stop(markdown_text=f"\n\n{note}")
                return
            except SlackApiError as exc:
                log.info("ending the stream with an error failed (%s)", exc.response.get("error"))
        await post_text(self._client, self._channel, self._thread_ts, text)


def _task(piece: ToolPiece) -> TaskUpdateChunk:
    title = TOOL_TITLES.get(piece.tool) or piece.tool.replace("_", " ").capitalize()
    return TaskUpdateChunk(
        id=truncate(piece.call_id, 100),
        title=title,
        status=piece.status,
        details=truncate(neutralise(piece.detail), 200) if piece.detail else None,
    )
