"""``gemini-interactions-mcp`` (also ``python -m server``): the MCP server on stdio or streamable HTTP.

stdout is the stdio wire, so everything we say goes to stderr (logging included), and logging is configured
before the MCP server is built (the SDK would otherwise install its own INFO handler and httpx would log every
research poll). Logs are text or JSON lines (``--log-format`` / ``GEMINI_INTERACTIONS_LOG_FORMAT``, see
``server.core.logs``). Secrets are never logged, and the log handler redacts them should a library try.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NoReturn, cast

import anyio

from server.core.logs import (
    LOG_FORMATS,
    JsonFormatter,
    add_secret,
    configure_logging,
    log_format_from_env,
)

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from server.core.settings import Settings
    from server.mcp_auth import HttpSecurity

log = logging.getLogger("server.cli")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
HTTP_SHUTDOWN_GRACE_SECONDS = 5
STRAY_TASK_GRACE_SECONDS = 3.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gemini-interactions-mcp",
        description="Gemini Interactions API as an MCP server (stdio, or streamable HTTP at /mcp).",
    )
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
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="start the local Interactions API emulator in-process and use it (fake answers, no key needed)",
    )
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="INFO", help="stderr log level (default INFO)"
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=None,
        help="stderr log lines: text, or json (one object per line); default: GEMINI_INTERACTIONS_LOG_FORMAT "
        "or text",
    )
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    try:
        fmt = args.log_format or log_format_from_env()
    except ValueError as exc:
        configure_logging(args.log_level, "text")
        _die(str(exc))
    configure_logging(args.log_level, fmt)


def _say(text: str) -> None:
    """A notice on stderr; a log record instead when stderr carries JSON lines (so it stays parseable)."""
    if any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers):
        log.warning("%s", text)
    else:
        print(text, file=sys.stderr, flush=True)


def _die(message: str, code: int = 2) -> NoReturn:
    _say(f"gemini-interactions-mcp: {message}")
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
        _say(notice)
        yield emulated


def _http_security(args: argparse.Namespace, settings: Settings) -> HttpSecurity:
    from server.mcp_auth import InsecureBind, http_security

    token = settings.mcp_token.get_secret_value() if settings.mcp_token else None
    try:
        return http_security(args.host, args.port, token, allowed_hosts(args.allowed_host))
    except InsecureBind as exc:
        _die(str(exc))


def allowed_hosts(from_flags: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
    """``GEMINI_INTERACTIONS_ALLOWED_HOSTS`` (comma-separated), then every ``--allowed-host``."""
    from server.mcp_auth import ALLOWED_HOSTS_ENV, parse_allowed_hosts

    env = os.environ if env is None else env
    return [*parse_allowed_hosts(env.get(ALLOWED_HOSTS_ENV, "")), *from_flags]


async def _watch_signals(on_signal: Callable[[int], None]) -> None:
    """Call ``on_signal(n)`` for the n-th SIGTERM/SIGINT (the same on both transports)."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        count = 0
        async for signum in signals:
            count += 1
            log.info("received %s; shutting down", signal.Signals(signum).name)
            on_signal(count)


async def _serve_stdio(server: MCPServer[Any]) -> None:
    from server.mcp_stdio import serve_stdio

    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_signals, lambda _count: tg.cancel_scope.cancel())
        await serve_stdio(server)  # returns when the client closes stdin
        tg.cancel_scope.cancel()


async def _serve_http(server: MCPServer[Any], args: argparse.Namespace, security: HttpSecurity) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # we handle signals, the same way on both transports
            yield

    app = server.streamable_http_app(host=args.host, transport_security=security.transport_security)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,  # keep our stderr handler
        access_log=False,
        timeout_graceful_shutdown=HTTP_SHUTDOWN_GRACE_SECONDS,  # open SSE streams must not hold shutdown
        lifespan="on",
    )
    http = Server(config)

    def on_signal(count: int) -> None:
        http.should_exit = True
        if count > 1:
            http.force_exit = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_signals, on_signal)
        log.info("serving MCP over streamable HTTP at http://%s:%d/mcp", args.host, args.port)
        await http.serve()
        tg.cancel_scope.cancel()


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    _configure_logging(args)
    settings = _load_settings()
    add_secret(settings.mcp_token.get_secret_value() if settings.mcp_token else None)
    add_secret(settings.resolved_api_key())
    security = _http_security(args, settings) if args.transport == "http" else None
    transport = cast(Literal["stdio", "http"], args.transport)

    with contextlib.ExitStack() as stack:
        if args.emulator:
            settings = stack.enter_context(_emulator(settings))
        elif not settings.resolved_api_key():
            log.warning("no Gemini API key is set: tools will answer with how to set GEMINI_API_KEY")

        from server.mcp_app import build_server

        server = build_server(settings, transport=transport, security=security, log_level=args.log_level)
        anyio.run(_serve, server, args, security)


async def _serve(server: MCPServer[Any], args: argparse.Namespace, security: HttpSecurity | None) -> None:
    if security is not None:
        await _serve_http(server, args, security)
    else:
        await _serve_stdio(server)
    await _settle_stray_tasks()


async def _settle_stray_tasks() -> None:
    """Bound the exit: once the server and its core are closed, give tasks that libraries left behind (outside
    any task group) a moment to finish. Closing the event loop waits for them without limit, and one that
    never ends (an aiosqlite close interrupted by cancellation) would keep a stopped server alive."""
    import asyncio

    current = asyncio.current_task()
    strays = {task for task in asyncio.all_tasks() if task is not current}
    if not strays:
        return
    for task in strays:
        task.cancel()
    _done, pending = await asyncio.wait(strays, timeout=STRAY_TASK_GRACE_SECONDS)
    if pending:
        names = ", ".join(sorted(task.get_name() for task in pending))
        log.warning("%d leftover task(s) did not stop (%s); exiting without them", len(pending), names)
        logging.shutdown()
        os._exit(0)


if __name__ == "__main__":
    main()
