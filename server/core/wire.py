"""The Interactions API on the wire, below the SDK's models: a request's input parts, and a raw response read as
a JSON body, as SSE data lines or as capped bytes. The SDK's own parsing builds pydantic model classes per call,
which costs milliseconds of CPU per interaction (and per event) when a thousand runs are watched; errors still
arrive as the SDK's exceptions, which the gateway translates.

No SDK import here: the gateway hands us what it received. Interaction JSON → our types is ``answers.py``.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

from . import errors
from .domain import Attachment

log = logging.getLogger(__name__)


def input_parts(prompt: str, attachments: Sequence[Attachment]) -> Any:
    """The request's ``input``: the prompt alone, or the prompt and a part per attached file."""
    if not attachments:
        return prompt
    parts: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
    for item in attachments:
        if item.kind == "text":
            text = item.data.decode("utf-8", errors="replace")
            parts.append({"type": "text", "text": f"Attached file {item.name}:\n\n{text}"})
        else:
            parts.append(
                {
                    "type": item.kind,
                    "data": base64.b64encode(item.data).decode("ascii"),
                    "mime_type": item.mime_type,
                }
            )
    return parts


async def json_body(request: Awaitable[Any]) -> dict[str, Any]:
    """The JSON body of a raw response: the SDK's own parsing builds pydantic model classes per call, which
    costs ~10 ms of CPU per interaction. Errors are still raised as the SDK's exceptions."""
    response = await request
    try:
        data = response.json()
        if inspect.isawaitable(data):
            data = await data
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise errors.UpstreamError(
            "Gemini returned a response we could not read (not a JSON object). Try again in a moment."
        )
    return data


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """The JSON payloads of an SSE stream; text outside ``data:`` lines (the 10-minute cut) is ignored."""
    buffer: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            buffer.append(line[5:].removeprefix(" "))
        elif not line and buffer:
            data, buffer = "\n".join(buffer), []
            if data == "[DONE]":
                return
            try:
                payload = json.loads(data)
            except ValueError:
                log.warning("skipping an unreadable stream event")
                continue
            if isinstance(payload, dict):
                yield payload


async def read_capped(response: Any, limit: int) -> bytes:
    """A streamed response's body, refused (ValueError) past ``limit`` bytes."""
    response.raise_for_status()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ValueError(f"the image is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def sdk_httpx() -> Any:
    """The SDK's HTTP library: httpx2, or httpx where the SDK falls back to it."""
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx  # type: ignore[no-redef]  # the same API under its older name
    return httpx
