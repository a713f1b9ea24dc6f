"""``gemini-interactions-slack``: the Slack bot, in Socket Mode (``SLACK_APP_TOKEN`` set) or HTTP mode.

HTTP mode serves ``POST /slack/events`` (and ``GET /healthz``) under uvicorn on ``--host``/``--port``. On SIGINT or
SIGTERM the bot stops taking requests, lets work in flight finish for a few seconds, then closes the core (which
releases its leases on unfinished research runs so another process can take them at once).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import anyio

from server.core.errors import ConfigurationError

from .config import SlackConfig

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from server.core.settings import Settings

    from .bot import SlackBot

log = logging.getLogger("slack_bot.cli")

PROG = "gemini-interactions-slack"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
HTTP_SHUTDOWN_GRACE_SECONDS = 5


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Gemini in Slack: Socket Mode when SLACK_APP_TOKEN is set, else HTTP at /slack/events.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP mode bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=3000, help="HTTP mode port (default 3000; 0 picks a free one)"
    )
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="start the local Interactions API emulator in-process and use it (fake answers, no key needed)",
    )
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="INFO", help="stderr log level (default INFO)"
    )
    return parser


def configuration_error(exc: BaseException) -> ConfigurationError | None:
    """The ConfigurationError in ``exc``, also when task groups wrapped it in exception groups."""
    if isinstance(exc, ConfigurationError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = configuration_error(inner)
            if found is not None:
                return found
    return None


def _die(message: str, code: int = 2) -> NoReturn:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def _load_settings(**overrides: Any) -> Settings:
    from server.core.errors import ConfigurationError
    from server.core.settings import load_settings

    try:
        return load_settings(**overrides)
    except ConfigurationError as exc:
        _die(str(exc))


@contextlib.contextmanager
def _emulator(settings: Settings) -> Iterator[Settings]:
    """The emulator in this process for the life of the server, and settings that point at it."""
    from server.core.errors import ConfigurationError
    from server.emulator.embedded import embedded_emulator

    with contextlib.ExitStack() as stack:
        try:
            emulated, notice = stack.enter_context(embedded_emulator(settings))
        except (OSError, RuntimeError, ConfigurationError) as exc:
            _die(f"the emulator could not start ({exc}).", code=1)
        print(notice, file=sys.stderr, flush=True)
        yield emulated


async def _watch_signals(on_signal: Callable[[int], None]) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        count = 0
        async for signum in signals:
            count += 1
            log.info("received %s; shutting down", signal.Signals(signum).name)
            on_signal(count)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted sockets: without it every ack on a handed-over socket waits ~40 ms (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        _die(f"cannot listen on {host}:{port} ({exc.strerror}). Pick another --port or stop what uses it.")
    sock.set_inheritable(True)
    return sock


async def _serve_http(bot: SlackBot, host: str, port: int) -> None:
    import uvicorn

    from .http import EVENTS_PATH, http_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # we handle signals ourselves (see _watch_signals)
            yield

    sock = _bind(host, port)
    config = uvicorn.Config(
        http_app(bot),
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=HTTP_SHUTDOWN_GRACE_SECONDS,
    )
    server = Server(config)

    def on_signal(count: int) -> None:
        server.should_exit = True
        if count > 1:
            server.force_exit = True

    bound_host, bound_port = sock.getsockname()[:2]
    print(
        f"{PROG}: HTTP mode, listening on http://{bound_host}:{bound_port}{EVENTS_PATH}",
        file=sys.stderr,
        flush=True,
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_signals, on_signal)
        await server.serve(sockets=[sock])
        tg.cancel_scope.cancel()


def socket_mode_handler(bot: SlackBot) -> AsyncSocketModeHandler:
    """Socket Mode over aiohttp; it calls apps.connections.open through the bot's client (so SLACK_API_URL)."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    if not bot.config.app_token:
        raise ConfigurationError("Socket Mode needs SLACK_APP_TOKEN (an app-level token, xapp-…).")
    return AsyncSocketModeHandler(bot.app, bot.config.app_token)


async def _serve_socket_mode(bot: SlackBot) -> None:
    handler = socket_mode_handler(bot)
    stop = anyio.Event()
    await handler.connect_async()
    print(f"{PROG}: Socket Mode, connected to Slack", file=sys.stderr, flush=True)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_watch_signals, lambda _count: stop.set())
            await stop.wait()
            tg.cancel_scope.cancel()
    finally:
        await handler.close_async()


async def run(config: SlackConfig, settings: Settings, *, host: str, port: int) -> None:
    from server.core.service import Core

    from .app import build_client, create_app

    async with Core.running(settings) as core:
        bot = create_app(build_client(config), core, config)
        async with bot.running():
            if config.socket_mode:
                await _serve_socket_mode(bot)
            else:
                await _serve_http(bot, host, port)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    from server.core.logs import configure_logging

    try:
        configure_logging(args.log_level)  # text or JSON (GEMINI_INTERACTIONS_LOG_FORMAT), secrets redacted
    except ValueError as exc:
        _die(str(exc))
    try:
        config = SlackConfig.from_env()
    except ConfigurationError as exc:
        _die(str(exc))
    settings = _load_settings()
    with contextlib.ExitStack() as stack:
        if args.emulator:
            settings = stack.enter_context(_emulator(settings))
        elif not settings.resolved_api_key():
            log.warning("no Gemini API key is set: answers will say how to set GEMINI_API_KEY")
        try:
            anyio.run(lambda: run(config, settings, host=args.host, port=args.port))
        except (ConfigurationError, BaseExceptionGroup) as exc:
            problem = configuration_error(exc)
            if problem is None:
                raise
            _die(str(problem), code=1)


if __name__ == "__main__":
    main()
