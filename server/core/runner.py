"""What every command shares: logging set up first, settings, ``--emulator``, signals, an HTTP server and exit.

    runner = Runner("gemini-interactions-slack", emulator=embedded)
    args = runner.parser("Gemini in Slack").parse_args(argv)   # + --log-level, --log-format, --emulator
    runner.start(args)                        # stderr: text or JSON lines (secrets redacted), before anything else
    with runner.gemini(runner.settings(), emulated=args.emulator) as settings:
        runner.run(serve, settings)           # anyio.run; our errors end in one message, exit 1

Everything a command says goes to stderr (stdout is the MCP stdio wire): a notice is printed as text, or logged
as one JSON object when stderr carries JSON lines, so that every line of a JSON log parses. A problem we know
(``GeminiInteractionsError``: a bad setting, a rejected token, an unreachable service) ends the command with its
message and exit code 1; anything else is logged with its traceback (one JSON record in JSON mode), exit 1.

HTTP front doors serve through :func:`serve_http`: uvicorn on a socket we bind, with signals handled here the
same way for every command (the first SIGTERM/SIGINT stops taking requests, the second forces the exit).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

import anyio

from .errors import ConfigurationError, GeminiInteractionsError
from .http_limits import DEFAULT_HEADER_TIMEOUT_SECONDS, head_deadline_protocol
from .logs import LOG_FORMATS, JsonFormatter, add_secret, configure_logging, log_format_from_env
from .version import VersionAction

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from .settings import Settings

log = logging.getLogger(__name__)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
HTTP_SHUTDOWN_GRACE_SECONDS = 5.0
STRAY_TASK_GRACE_SECONDS = 3.0
BACKLOG = 2048

E = TypeVar("E", bound=BaseException)

#: Starts the emulator for ``--emulator``: yields settings that point at it, and the notice to show.
EmulatorStart = Callable[["Settings"], contextlib.AbstractContextManager[tuple["Settings", str]]]


class Runner:
    def __init__(self, prog: str, *, emulator: EmulatorStart | None = None, without_key: str = "") -> None:
        """``emulator`` offers ``--emulator``; ``without_key`` is the warning when no Gemini key is set."""
        self.prog = prog
        self._emulator = emulator
        self._without_key = without_key

    # -- arguments and logging ------------------------------------------------------------------------------

    def parser(self, description: str, *, log_level: str = "INFO") -> argparse.ArgumentParser:
        """An argument parser with the options every command has."""
        parser = argparse.ArgumentParser(prog=self.prog, description=description)
        parser.add_argument("--version", action=VersionAction)
        if self._emulator is not None:
            parser.add_argument(
                "--emulator",
                action="store_true",
                help="start the local Interactions API emulator in-process and use it (fake answers, no key "
                "needed)",
            )
        parser.add_argument(
            "--log-level",
            type=str.upper,
            choices=LOG_LEVELS,
            default=log_level,
            help=f"stderr log level (default {log_level})",
        )
        parser.add_argument(
            "--log-format",
            choices=LOG_FORMATS,
            default=None,
            help="stderr log lines: text, or json (one object per line); default: "
            "GEMINI_INTERACTIONS_LOG_FORMAT or text",
        )
        return parser

    def start(self, args: argparse.Namespace) -> None:
        """Configure logging from ``--log-level``/``--log-format`` (or the environment); first thing in main()."""
        try:
            fmt = args.log_format or log_format_from_env()
        except ValueError as exc:
            configure_logging(args.log_level, "text")
            self.die(str(exc))
        configure_logging(args.log_level, fmt)

    def say(self, text: str) -> None:
        """A notice on stderr; a log record instead when stderr carries JSON lines (so it stays parseable)."""
        if any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers):
            log.warning("%s", text)
        else:
            print(text, file=sys.stderr, flush=True)

    def die(self, message: str, code: int = 2) -> NoReturn:
        self.say(f"{self.prog}: {message}")
        raise SystemExit(code)

    # -- settings and Gemini --------------------------------------------------------------------------------

    def settings(self, **overrides: Any) -> Settings:
        """Settings from the environment; a bad one ends the command with what to fix. Secrets are redacted."""
        from .settings import load_settings

        try:
            settings = load_settings(**overrides)
        except ConfigurationError as exc:
            self.die(str(exc))
        add_secret(settings.mcp_token.get_secret_value() if settings.mcp_token else None)
        add_secret(settings.resolved_api_key())
        for secret in settings.webhook_secrets():
            add_secret(secret)
        return settings

    @contextlib.contextmanager
    def gemini(self, settings: Settings, *, emulated: bool) -> Iterator[Settings]:
        """The settings to serve with: for ``--emulator``, the emulator in this process for the command's life."""
        if not emulated:
            if not settings.resolved_api_key() and self._without_key:
                log.warning("%s", self._without_key)
            yield settings
            return
        if self._emulator is None:
            raise RuntimeError(f"{self.prog} has no --emulator")
        with contextlib.ExitStack() as stack:
            try:
                settings, notice = stack.enter_context(self._emulator(settings))
            except (OSError, RuntimeError, ConfigurationError) as exc:
                self.die(f"the emulator could not start ({exc}).", code=1)
            self.say(notice)
            yield settings

    def webhooks_notice(self, settings: Settings, *, receives: bool) -> None:
        """Say how runs are watched when Gemini's webhooks are configured; ``receives``: this process serves
        ``POST /gemini/webhooks``."""
        if not settings.webhooks_enabled:
            return
        from .webhooks.http import WEBHOOK_PATH

        every = f"{settings.webhook_safety_poll_seconds:g} s"
        if receives:
            log.info(
                "Gemini webhooks on: deliveries to %s%s; runs are polled every %s as a safety net",
                settings.public_url,
                WEBHOOK_PATH,
                every,
            )
        else:
            log.warning(
                "Gemini webhooks are configured but this process serves no HTTP: deliveries must reach a replica "
                "that does and shares its database (GEMINI_INTERACTIONS_DATABASE_URL); otherwise runs here "
                "finish only at the safety poll, every %s. Unset GEMINI_INTERACTIONS_WEBHOOK_SECRET to stream "
                "them instead.",
                every,
            )

    @contextlib.contextmanager
    def listening(self, host: str, port: int) -> Iterator[socket.socket]:
        """A socket listening on ``host:port`` for the command's life; one that cannot bind ends the command."""
        try:
            sock = bind(host, port)
        except OSError as exc:
            self.die(
                f"cannot listen on {host}:{port} ({exc.strerror}). Pick another --port or stop what uses it."
            )
        try:
            yield sock
        finally:
            sock.close()

    # -- running --------------------------------------------------------------------------------------------

    def run(self, main: Callable[..., Awaitable[None]], *args: Any, **kwargs: Any) -> None:
        """``anyio.run(main, *args, **kwargs)``, then a bounded exit. A problem we know ends with its message
        (exit 1); anything else is logged with its traceback (exit 1)."""
        try:
            anyio.run(_then_settle, functools.partial(main, *args, **kwargs))
        except Exception as exc:  # task groups wrap ours in (Exception)Groups: known_problem looks inside
            problem = known_problem(exc)
            if problem is None:
                self._crash(exc)
            self.die(str(problem), code=1)

    def _crash(self, exc: BaseException) -> NoReturn:
        log.critical("%s stopped on an unexpected error", self.prog, exc_info=exc)
        raise SystemExit(1)


def known_problem(exc: BaseException) -> GeminiInteractionsError | None:
    """The error of ours in ``exc`` (its message is written for people), also inside exception groups."""
    return _find(exc, GeminiInteractionsError)


def configuration_error(exc: BaseException) -> ConfigurationError | None:
    """The ConfigurationError in ``exc``, also when task groups wrapped it in exception groups."""
    return _find(exc, ConfigurationError)


def _find(exc: BaseException, kind: type[E]) -> E | None:
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find(inner, kind)
            if found is not None:
                return found
    return None


async def _then_settle(main: Callable[[], Awaitable[None]]) -> None:
    await main()
    await settle_stray_tasks()


async def settle_stray_tasks() -> None:
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


async def watch_signals(on_signal: Callable[[int], None]) -> None:
    """Call ``on_signal(n)`` for the n-th SIGTERM/SIGINT (the same for every command)."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        count = 0
        async for signum in signals:
            count += 1
            log.info("received %s; shutting down", signal.Signals(signum).name)
            on_signal(count)


async def until_signal() -> None:
    """Return at the first SIGTERM/SIGINT."""
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_signals, lambda _count: stop.set())
        await stop.wait()
        tg.cancel_scope.cancel()


def bind(host: str, port: int, *, backlog: int = BACKLOG) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one); OSError when it cannot bind.

    It listens at once, so a client that connects as soon as we say where we listen waits in the backlog
    until the server accepts, instead of being refused.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted sockets: without it uvicorn's split header/body writes meet delayed ACKs and every
    # response on a socket handed to uvicorn waits ~40 ms (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve_http(
    app: ASGIApp,
    sock: socket.socket,
    *,
    lifespan: Literal["on", "off", "auto"] = "off",
    grace_seconds: float = HTTP_SHUTDOWN_GRACE_SECONDS,
    backlog: int = BACKLOG,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS,
) -> None:
    """Serve ``app`` under uvicorn on ``sock`` until SIGTERM/SIGINT (a second one forces the exit).

    A connection whose request head takes longer than ``header_timeout`` seconds is closed (``http_limits``).
    """
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # signals are ours (watch_signals), for every command
            yield

    config = uvicorn.Config(
        app,
        log_config=None,  # keep our stderr handler
        access_log=False,
        lifespan=lifespan,
        timeout_graceful_shutdown=int(grace_seconds),  # open SSE streams must not hold shutdown
        backlog=backlog,
        http=head_deadline_protocol(header_timeout),
    )
    server = Server(config)

    def on_signal(count: int) -> None:
        server.should_exit = True
        if count > 1:
            server.force_exit = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_signals, on_signal)
        await server.serve(sockets=[sock])
        tg.cancel_scope.cancel()
