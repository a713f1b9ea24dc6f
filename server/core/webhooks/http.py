"""``POST /gemini/webhooks`` as a Starlette endpoint, for both HTTP front doors (MCP over HTTP, Slack HTTP mode).

The body is read with a byte count (a delivery is a thin event: anything past ``MAX_WEBHOOK_BODY_BYTES`` is
refused with 413 before it is all read, whatever Content-Length says) and within ``BODY_READ_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from .receiver import WebhookReceiver

WEBHOOK_PATH = "/gemini/webhooks"
MAX_WEBHOOK_BODY_BYTES = 64 * 1024
BODY_READ_SECONDS = 10.0


class _TooLarge(Exception):
    pass


async def _read_bounded(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_endpoint(
    receiver: Callable[[], WebhookReceiver | None],
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint; ``receiver`` gives the core's receiver (None while the front door is starting)."""
    from starlette.responses import JSONResponse

    async def endpoint(request: Request) -> Response:
        target = receiver()
        if target is None:
            return JSONResponse({"error": "starting; deliver again later"}, status_code=503)
        try:
            with anyio.fail_after(BODY_READ_SECONDS):
                body = await _read_bounded(request, MAX_WEBHOOK_BODY_BYTES)
        except _TooLarge:
            return JSONResponse({"error": "delivery too large"}, status_code=413)
        except TimeoutError:
            return JSONResponse({"error": "the body took too long to arrive"}, status_code=408)
        reply = await target.receive(request.headers, body)
        return JSONResponse(reply.body, status_code=reply.status)

    return endpoint
