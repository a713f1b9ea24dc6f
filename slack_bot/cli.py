"""``gemini-interactions-slack``: the Slack bot, in Socket Mode (``SLACK_APP_TOKEN`` set) or HTTP mode.

HTTP mode serves ``POST /slack/events`` (and ``GET /healthz``, see ``http.py``) under uvicorn on
``--host``/``--port``. Logs, settings, ``--emulator``, signals and the HTTP server are the shared runner's
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
    return parser


def socket_mode_handler(bot: SlackBot) -> AsyncSocketModeHandler:
    """Socket Mode over aiohttp; it calls apps.connections.open through the bot's client (so SLACK_API_URL)."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    if not bot.config.app_token:
        raise ConfigurationError("Socket Mode needs SLACK_APP_TOKEN (an app-level token, xapp-…).")
    return AsyncSocketModeHandler(bot.app, bot.config.app_token)


async def _serve_socket_mode(bot: SlackBot) -> None:
    handler = socket_mode_handler(bot)
    await handler.connect_async()
    RUNNER.say(f"{RUNNER.prog}: Socket Mode, connected to Slack")
    try:
        await until_signal()
    finally:
        await handler.close_async()


async def _serve_http(bot: SlackBot, sock: socket.socket) -> None:
    from .http import EVENTS_PATH, http_app

    RUNNER.say(f"{RUNNER.prog}: HTTP mode, listening on {url_of(sock)}{EVENTS_PATH}")
    await serve_http(http_app(bot), sock, header_timeout=bot.core.settings.http_header_timeout_seconds)


async def run(config: SlackConfig, settings: Settings, sock: socket.socket | None) -> None:
    from server.core import Core

    from .app import build_client, create_app

    async with Core.running(settings) as core:
        bot = create_app(build_client(config), core, config)
        async with bot.running():
            if sock is None:
                await _serve_socket_mode(bot)
            else:
                await _serve_http(bot, sock)


@contextlib.contextmanager
def _listening(config: SlackConfig, host: str, port: int) -> Iterator[socket.socket | None]:
    """HTTP mode's socket, bound before anything starts (Socket Mode: none)."""
    if config.socket_mode:
        yield None
        return
    with RUNNER.listening(host, port) as sock:
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
        _listening(config, args.host, args.port) as sock,
    ):
        RUNNER.run(run, config, settings, sock)


if __name__ == "__main__":
    main()
