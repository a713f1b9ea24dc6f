"""The stdio transport, stoppable by a signal.

The SDK's ``stdio_server`` reads stdin in an anyio worker thread that cannot be cancelled: after SIGTERM the
server would wait for the host's next line (or for stdin to close) before exiting, and a worker thread blocked
in ``read()`` is joined at interpreter exit. Here a daemon thread reads the lines instead and hands them to the
event loop, so cancelling the server returns at once; the SDK still owns stdout (and diverts fd 1 to stderr
while serving). The thread reads a duplicate of fd 0 with ``os.read``: no Python buffer lock is held across the
blocking read, so interpreter shutdown never waits on it (a daemon thread inside ``sys.stdin.buffer.readline``
makes the interpreter abort at exit).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server

from .lowlevel import run_session

BUFFERED_LINES = 16
READ_SIZE = 64 * 1024


def _lines(fd: int) -> Iterator[bytes]:
    pending = bytearray()
    while chunk := os.read(fd, READ_SIZE):
        pending += chunk
        while (end := pending.find(b"\n")) >= 0:
            yield bytes(pending[: end + 1])
            del pending[: end + 1]
    if pending:
        yield bytes(pending)


class StdinLines:
    """``async for line in StdinLines()``: stdin's lines, read by a daemon thread; ends at EOF."""

    def __init__(self, fd: int = 0) -> None:
        self._fd = fd
        self._send: MemoryObjectSendStream[str]
        self._recv: MemoryObjectReceiveStream[str]
        self._send, self._recv = anyio.create_memory_object_stream[str](BUFFERED_LINES)
        self._thread: threading.Thread | None = None

    def _pump(self, token: Any) -> None:
        fd = os.dup(self._fd)
        try:
            for raw in _lines(fd):
                anyio.from_thread.run(self._send.send, raw.decode("utf-8", errors="replace"), token=token)
        except Exception:  # the event loop is gone (shutdown) or the reader closed: stop reading
            pass
        finally:
            os.close(fd)
            try:
                anyio.from_thread.run_sync(self._send.close, token=token)
            except Exception:  # the event loop is already closed
                pass

    def __aiter__(self) -> StdinLines:
        if self._thread is None:
            token = anyio.lowlevel.current_token()
            self._thread = threading.Thread(target=self._pump, args=(token,), name="mcp stdin", daemon=True)
            self._thread.start()
        return self

    async def __anext__(self) -> str:
        try:
            return await self._recv.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


async def serve_stdio(server: MCPServer[Any]) -> None:
    """Serve MCP on stdin/stdout until stdin closes or the caller cancels."""
    # The SDK types stdin as an anyio file; it only iterates it, which StdinLines does.
    async with stdio_server(stdin=StdinLines()) as (read_stream, write_stream):  # type: ignore[arg-type]  # see above
        await run_session(server, read_stream, write_stream)
