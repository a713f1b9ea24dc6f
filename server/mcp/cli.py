"""``gemini-interactions-mcp`` (also ``python -m server``): the MCP server on stdio or streamable HTTP.

stdout is the stdio wire, so everything we say goes to stderr (logging included), and logging is configured
before the MCP server is built (the SDK would otherwise install its own INFO handler and httpx would log every
research poll). Logs, settings, ``--emulator``, signals and the HTTP server are the shared runner's
(``server.core.runner``); this module adds the MCP options and the two transports.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import anyio

from server.core import Runner, Settings, serve_http, watch_signals

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from .auth import HttpSecurity

log = logging.getLogger(__name__)


def embedded_emulator(settings: Settings) -> contextlib.AbstractContextManager[tuple[Settings, str]]:
    from server.emulator.embedded import embedded_emulator as start

    return start(settings)


RUNNER = Runner(
    "gemini-interactions-mcp",
    emulator=embedded_emulator,
    without_key="no Gemini API key is set: tools will answer with how to set GEMINI_API_KEY",
)


def _parser() -> argparse.ArgumentParser:
    parser = RUNNER.parser("Gemini Interactions API as an MCP server (stdio, or streamable HTTP at /mcp).")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="extra Host header to accept (repeatable), e.g. mcp.example.com (any port) or "
        "mcp.example.com:8443; added to GEMINI_INTERACTIONS_ALLOWED_HOSTS (comma-separated)",
    )
    return parser


def _http_security(args: argparse.Namespace, settings: Settings) -> HttpSecurity:
    from .access import AccessError, access_for, public_host
    from .auth import InsecureBind, allowed_hosts, http_security

    hosts = allowed_hosts(args.allowed_host)
    if public := public_host(settings):
        hosts.append(public)
    try:
        access = access_for(settings, args.host, args.port)
        security = http_security(args.host, args.port, access, hosts)
    except (AccessError, InsecureBind) as exc:
        RUNNER.die(str(exc))
    log.info("HTTP callers sign in with %s", access.mode if access else "nothing (loopback only)")
    return security


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    RUNNER.start(args)
    settings = RUNNER.settings()
    security = _http_security(args, settings) if args.transport == "http" else None
    transport = cast(Literal["stdio", "http"], args.transport)
    RUNNER.webhooks_notice(settings, receives=transport == "http")
    with RUNNER.gemini(settings, emulated=args.emulator) as settings:
        from .app import build_server

        server = build_server(settings, transport=transport, security=security, log_level=args.log_level)
        if security is None:
            RUNNER.run(_serve_stdio, server)
            return
        with RUNNER.listening(args.host, args.port) as sock:
            RUNNER.run(_serve_http, server, args, security, settings, sock)


async def _serve_stdio(server: MCPServer[Any]) -> None:
    from .stdio import serve_stdio

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_signals, lambda _count: tg.cancel_scope.cancel())
        await serve_stdio(server)  # returns when the client closes stdin
        tg.cancel_scope.cancel()


async def _serve_http(
    server: MCPServer[Any],
    args: argparse.Namespace,
    security: HttpSecurity,
    settings: Settings,
    sock: socket.socket,
) -> None:
    from .routes import http_app

    app = http_app(server, host=args.host, security=security, settings=settings)
    log.info("serving MCP over streamable HTTP at http://%s:%d/mcp", args.host, args.port)
    await serve_http(app, sock, lifespan="on", header_timeout=settings.http_header_timeout_seconds)


if __name__ == "__main__":
    main()
