"""Server-sent events: replay an interaction's log from a point, then tail it until the job ends.

Framing is ``event: <type>\\ndata: <json>\\n\\n``; the stream ends with ``event: done\\ndata: [DONE]``.
``EmulatorConfig.stream_cut_seconds`` cuts every stream that way after a while (the real service: 600 s).
Two faults act here: ``cut_stream`` writes the bare error text the real service writes at its 10-minute
cut (no ``data:`` line, so the SDK ignores it and ``async for`` just ends) and closes; ``hang_stream``
stops sending and holds the connection until the client gives up or the emulator stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .faults import FaultRule
from .timeline import Interaction

if TYPE_CHECKING:
    from .emulator import Emulator

DONE = b"event: done\ndata: [DONE]\n\n"
CUT_TEXT = (
    b'[{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}]\n'
)
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class EventStream(StreamingResponse):
    """A streamed response that says when it is over: ``on_close`` runs once the stream has ended, however it
    ended (the last event, a cut, or the client going away)."""

    on_close: Callable[[], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.on_close is not None:
                self.on_close()


def stream_response(emu: Emulator, it: Interaction, start: int, fault: FaultRule | None) -> EventStream:
    return EventStream(_events(emu, it, start, fault), media_type="text/event-stream", headers=HEADERS)


async def _events(
    emu: Emulator, it: Interaction, start: int, fault: FaultRule | None
) -> AsyncIterator[bytes]:
    index, sent = start, 0
    cut_after = emu.config.stream_cut_seconds
    deadline = time.monotonic() + cut_after if cut_after > 0 else None
    while True:
        while index < len(it.events):
            if fault is not None and sent >= fault.after_events:
                if fault.action == "cut_stream":
                    yield CUT_TEXT
                else:
                    await emu.wait_closing(emu.config.hang_seconds)
                return
            if deadline is not None and time.monotonic() >= deadline:
                yield CUT_TEXT
                return
            yield it.events[index].frame
            index += 1
            sent += 1
        if it.finished:
            yield DONE
            return
        if emu.closing or it.discarded:
            return
        if deadline is None:
            await it.wait_changed()
            continue
        try:
            await asyncio.wait_for(it.wait_changed(), timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            yield CUT_TEXT
            return
