"""What every HTTP route we serve does with hostile input: bodies bounded in bytes and in time, heads in time.

    app = Starlette(routes=[...])
    guard_bodies(app, max_bytes=1024 * 1024, timeout=settings.http_body_timeout_seconds)
    await serve_http(app, sock, header_timeout=settings.http_header_timeout_seconds)

``guard_bodies`` puts :class:`BodyGuard` around every route of an app, those added later included: it counts a
body's bytes as they arrive (``Content-Length`` is a claim, a chunked body has none) and answers 413 past the
limit, and 408 when the body has not all arrived within ``timeout`` seconds of the request head. Either answer
closes the connection, so the rest of the body is never read. Nothing is buffered: the app reads the body as it
always does, through a ``receive`` that keeps count.

A request head (request line and headers) must arrive whole within ``header_timeout`` seconds of the connection
(or of the previous response on a kept-alive one); :func:`head_deadline_protocol` closes a connection that is
slower, which is how a slowloris client holds a server's connections.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
DEFAULT_BODY_TIMEOUT_SECONDS = 30.0


class _BodyRefused(Exception):
    """Raised from ``receive`` to stop the app reading; :class:`BodyGuard` turns it into the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BodyGuard:
    """ASGI middleware: a request body of at most ``max_bytes``, all arrived within ``timeout`` seconds."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float) -> None:
        if max_bytes <= 0 or not (math.isfinite(timeout) and timeout > 0):
            raise ValueError("max_bytes and timeout must be positive")
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send, 413, self._too_large())
            return
        deadline = anyio.current_time() + self.timeout
        received = 0
        body_done = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # what follows the body (a disconnect) may take as long as the response does
                return await receive()
            with anyio.move_on_after(max(deadline - anyio.current_time(), 0)):
                message = await receive()
                if message["type"] != "http.request":
                    return message
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyRefused(413, self._too_large())
                body_done = not message.get("more_body", False)
                return message
            raise _BodyRefused(408, f"the request body did not arrive within {self.timeout:g} s")

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except Exception as exc:
            refused = _refusal(exc)
            if refused is None:
                raise
            if started:  # the app answered before it read the whole body; all we can do is hang up
                log.warning(
                    "%s %s: %s; closing the connection", scope["method"], scope["path"], refused.message
                )
                return
            await self._refuse(scope, send, refused.status, refused.message)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes:,} bytes, the limit here"

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
        client = scope.get("client") or ("?", 0)
        log.warning("refused %s %s from %s: %s", scope["method"], scope["path"], client[0], message)
        body = json.dumps({"error": message}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the unread rest of the body is not worth reading
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses it before we run; nothing to add
    return None


def _refusal(exc: BaseException) -> _BodyRefused | None:
    """Ours, also when a task group in the app wrapped it in exception groups."""
    for inner in _leaves(exc):
        if isinstance(inner, _BodyRefused):
            return inner
    return None


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def guard_bodies(app: Starlette, *, max_bytes: int, timeout: float) -> Starlette:
    """Put :class:`BodyGuard` around every route of ``app`` (call it before the app serves); returns ``app``.

    It goes in Starlette's middleware stack, inside the error middleware: the app's own errors stay its own.
    """
    app.add_middleware(BodyGuard, max_bytes=max_bytes, timeout=timeout)
    return app


def head_deadline_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head takes longer than ``header_timeout``.

    uvicorn (0.54) has no such timeout: its keep-alive timer runs only after a response and any byte received
    stops it, so a client that sends one header byte every few seconds holds a connection for ever.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadline(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request's head, on a kept-alive connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self._head_timer = self.loop.call_later(header_timeout, self._head_late)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            # No request under way: its head has not all arrived, or we answered the last one before reading
            # all of its body (a 413, a 401, a 429) and the client is still sending that body, slowly.
            self._head_timer = None
            if self.conn.our_state in (h11.IDLE, h11.DONE) and not self.transport.is_closing():
                client = self.client[0] if self.client else "?"
                log.warning(
                    "closed a connection from %s: no complete request within %g s", client, header_timeout
                )
                self.transport.close()

    return HeadDeadline
