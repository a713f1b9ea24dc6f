"""Gemini webhooks in tests: a receiver that records what the emulator delivers, an ASGI app served on a free
loopback port (so the emulator can reach our real endpoint), and registering a webhook the way an operator does.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from aiohttp import web
from starlette.types import ASGIApp

from server.core import Settings, WebhookAdmin

START_SECONDS = 10.0


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


class Recorder:
    """An HTTP endpoint on 127.0.0.1 that keeps every POST; answers ``statuses`` in turn, then 200."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(
            Received({k.lower(): v for k, v in request.headers.items()}, await request.read())
        )
        return web.json_response({}, status=self.statuses.pop(0) if self.statuses else 200)

    async def __aenter__(self) -> Recorder:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} deliveries after {timeout}s, wanted {count}")
            await asyncio.sleep(0.02)
        return list(self.received)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # the test process keeps its own signal handlers
        yield


def loopback_socket() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port: its URL can be registered before the app that serves it exists."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serve_asgi(app: ASGIApp, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """``app`` under uvicorn in this event loop on ``sock`` (default: a free 127.0.0.1 port); yields its URL."""
    sock = sock or loopback_socket()
    server = _QuietServer(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            assert time.monotonic() < deadline and not serving.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        sock.close()


async def until(check: Callable[[], Any], *, timeout: float = 15.0, what: str = "") -> None:
    """Poll ``check`` (sync, or async returning a bool) every 20 ms until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        await asyncio.sleep(0.02)


async def register(settings: Settings, url: str) -> str:
    """Register ``url`` with (emulated) Gemini as an operator does; return the signing secret."""
    async with WebhookAdmin(settings) as admin:
        return (await admin.register(url)).secret
