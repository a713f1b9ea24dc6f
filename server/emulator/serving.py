"""Running the emulator: uvicorn in a daemon thread, or as a task in the caller's event loop.

Both bind a loopback address only (a non-loopback host raises ``ValueError``) and a free port by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from types import TracebackType

import anyio
import uvicorn

from .config import EmulatorConfig
from .emulator import Emulator
from .faults import Faults
from .stats import Stats

START_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """uvicorn without signal handlers: the emulator runs inside someone else's process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def check_loopback(host: str) -> str:
    """Return ``host`` when it is a loopback address (or ``localhost``), else raise ``ValueError``."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(
        f"Refusing to bind {host!r}: the emulator accepts any API key, so it only listens on a loopback "
        "address (127.0.0.1 or ::1)."
    )


def bind_socket(host: str, port: int) -> socket.socket:
    host = check_loopback(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this; without it uvicorn's split header/body writes meet delayed ACKs and
    # every response on a socket handed to uvicorn takes ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def url_for(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _uvicorn(emu: Emulator, log_level: str) -> _Server:
    config = uvicorn.Config(
        emu.app,
        log_config=None,  # the process that embeds us owns logging (a JSON log stays JSON)
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        backlog=2048,
        timeout_keep_alive=30,
    )
    return _Server(config)


class EmulatorHandle:
    """A running emulator: ``url`` for ``GOOGLE_GEMINI_BASE_URL``, ``emulator`` for faults and stats."""

    def __init__(self, emulator: Emulator, server: _Server, url: str) -> None:
        self.emulator = emulator
        self.url = url
        self._server = server
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def faults(self) -> Faults:
        return self.emulator.faults

    @property
    def stats(self) -> Stats:
        return self.emulator.stats

    def reset(self) -> None:
        self.emulator.reset()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (thread mode): end hangs and streams, cancel jobs, join the thread."""
        loop = self.emulator.loop
        if loop is not None and loop.is_running():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.emulator.begin_shutdown)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_emulator_in_thread(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
) -> EmulatorHandle:
    """Start the emulator with uvicorn in a daemon thread; returns once it accepts connections."""
    emu = Emulator(config)
    sock = bind_socket(host, port)
    server = _uvicorn(emu, log_level)
    handle = EmulatorHandle(emu, server, url_for(sock))
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as err:  # surfaced to the starting thread below
            errors.append(err)
        finally:
            sock.close()

    thread = threading.Thread(target=serve, name=f"gemini-emulator-{handle.port}", daemon=True)
    handle._thread = thread
    thread.start()
    # The socket already listens, so clients may connect at once; wait for the app's startup to surface errors.
    emu.started.wait(START_TIMEOUT)
    if not emu.started.is_set() or not thread.is_alive():
        handle.stop()
        raise RuntimeError(f"the emulator did not start: {errors[0] if errors else 'timed out'}")
    return handle


@contextlib.asynccontextmanager
async def serve_emulator(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
) -> AsyncIterator[EmulatorHandle]:
    """Serve the emulator from the current event loop for the duration of the ``async with`` block."""
    emu = Emulator(config)
    sock = bind_socket(host, port)
    server = _uvicorn(emu, log_level)
    handle = EmulatorHandle(emu, server, url_for(sock))
    done, ready = anyio.Event(), anyio.Event()
    emu.on_startup.append(ready.set)

    async def serve() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            done.set()
            ready.set()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            try:
                with anyio.fail_after(START_TIMEOUT):
                    await ready.wait()
                if done.is_set():
                    raise RuntimeError("the emulator did not start")
                yield handle
            finally:
                emu.begin_shutdown()
                server.should_exit = True
                with anyio.move_on_after(5.0):
                    await done.wait()
                if not done.is_set():
                    server.force_exit = True
                    tg.cancel_scope.cancel()
    finally:
        sock.close()
