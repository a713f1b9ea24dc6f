"""``gemini-interactions-slack``: the Slack bot, in Socket Mode (``SLACK_APP_TOKEN`` set) or HTTP mode.

HTTP mode serves ``POST /slack/events`` (and ``GET /healthz``, ``GET /readyz``, see ``http.py``) under uvicorn on
``--host``/``--port``. Socket Mode serves no HTTP unless ``--health-port`` is given: then ``/healthz`` and
``/readyz`` alone, on ``--host``, for container orchestrators. Logs, settings, ``--emulator``, signals and the HTTP server are the shared runner's
(``server.core.runner``). On SIGINT or SIGTERM the bot stops taking requests, lets work in flight finish for a
few seconds, then closes the core (which releases its leases on unfinished research runs so another process can
take them at once).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from server.core import ConfigurationError, Runner, Settings, serve_http, until_signal, url_of

from .config import SlackConfig

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from .bot import SlackBot


def embedded_emulator(settings: Settings) -> contextlib.AbstractContextManager[tuple[Settings, str]]:
    from server.emulator.embedded import embedded_emulator as start

    return start(settings)


RUNNER = Runner(
    "gemini-interactions-slack",
    emulator=embedded_emulator,
    without_key="no Gemini API key is set: answers will say how to set GEMINI_API_KEY",
)


def _parser() -> argparse.ArgumentParser:
    parser = RUNNER.parser(
        "Gemini in Slack: Socket Mode when SLACK_APP_TOKEN is set, else HTTP at /slack/events."
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP mode bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=3000, help="HTTP mode port (default 3000; 0 picks a free one)"
    )
    parser.add_argument(
        "--health-port",
        type=int,
        default=None,
        help="Socket Mode: serve GET /healthz and /readyz on this port (on --host; off by default). HTTP mode "
        "serves them on --port",
    )
    return parser


def socket_mode_handler(bot: SlackBot) -> AsyncSocketModeHandler:
    """Socket Mode over aiohttp; it calls apps.connections.open through the bot's client (so SLACK_API_URL)."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    if not bot.config.app_token:
        raise ConfigurationError("Socket Mode needs SLACK_APP_TOKEN (an app-level token, xapp-…).")
    return AsyncSocketModeHandler(bot.app, bot.config.app_token)


async def _serve_socket_mode(bot: SlackBot, health: socket.socket | None) -> None:
    handler = socket_mode_handler(bot)
    await handler.connect_async()
    bot.socket_client = handler.client
    RUNNER.say(f"{RUNNER.prog}: Socket Mode, connected to Slack")
    try:
        if health is None:
            await until_signal()
        else:
            from .health import health_app

            RUNNER.say(f"{RUNNER.prog}: health checks on {url_of(health)}/readyz")
            await serve_http(
                health_app(bot), health, header_timeout=bot.core.settings.http_header_timeout_seconds
            )  # until SIGTERM/SIGINT, like until_signal
    finally:
        await handler.close_async()


async def _serve_http(bot: SlackBot, sock: socket.socket) -> None:
    from .http import EVENTS_PATH, http_app

    RUNNER.say(f"{RUNNER.prog}: HTTP mode, listening on {url_of(sock)}{EVENTS_PATH}")
    await serve_http(http_app(bot), sock, header_timeout=bot.core.settings.http_header_timeout_seconds)


async def run(config: SlackConfig, settings: Settings, sock: socket.socket | None) -> None:
    """Serve until SIGTERM/SIGINT. ``sock``: HTTP mode's socket, or Socket Mode's health port (or None)."""
    from server.core import Core

    from .app import build_client, create_app

    async with Core.running(settings) as core:
        bot = create_app(build_client(config), core, config)
        async with bot.running():
            if config.socket_mode:
                await _serve_socket_mode(bot, sock)
            else:
                assert sock is not None  # HTTP mode always binds one (_listening)
                await _serve_http(bot, sock)


@contextlib.contextmanager
def _listening(config: SlackConfig, args: argparse.Namespace) -> Iterator[socket.socket | None]:
    """The socket to serve on, bound before anything starts: HTTP mode's, or Socket Mode's health port."""
    if not config.socket_mode:
        if args.health_port is not None:
            RUNNER.die("--health-port is for Socket Mode; in HTTP mode /healthz and /readyz are on --port.")
        with RUNNER.listening(args.host, args.port) as sock:
            yield sock
        return
    if args.health_port is None:
        yield None
        return
    with RUNNER.listening(args.host, args.health_port) as sock:
        yield sock


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    RUNNER.start(args)
    try:
        config = SlackConfig.from_env()
    except ConfigurationError as exc:
        RUNNER.die(str(exc))
    settings = RUNNER.settings()
    RUNNER.webhooks_notice(settings, receives=not config.socket_mode)
    with (
        RUNNER.gemini(settings, emulated=args.emulator) as settings,
        _listening(config, args) as sock,
    ):
        RUNNER.run(run, config, settings, sock)


if __name__ == "__main__":
    main()
