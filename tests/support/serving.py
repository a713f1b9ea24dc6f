"""An ASGI app under uvicorn in the test's own event loop, on a socket the test bound (any loopback address)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from server.core.http_limits import head_deadline_protocol


def loopback_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to a free port of ``host`` (not listening yet: uvicorn does that)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    return sock


@asynccontextmanager
async def serving(app: Any, sock: socket.socket, *, header_timeout: float = 10.0) -> AsyncIterator[str]:
    """Serve ``app`` on ``sock`` (as ``serve_http`` does: lifespan on, heads bounded in time); yields the base
    URL; stops the server and closes the socket on the way out."""
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", http=head_deadline_protocol(header_timeout)
    )
    http = uvicorn.Server(config)
    serving_task = asyncio.create_task(http.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 20
        while not http.started:
            assert time.monotonic() < deadline and not serving_task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        host, port = sock.getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        http.should_exit = True
        await asyncio.wait_for(serving_task, 20)
        sock.close()
