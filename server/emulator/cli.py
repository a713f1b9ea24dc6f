"""``gemini-interactions-emulator``: serve the emulator on a loopback port until Ctrl-C or SIGTERM.

Logging, signals and the HTTP server are the shared runner's (``server.core.runner``), as for the other
commands; the address to use is printed on stdout, everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import sys

from server.core import Runner, serve_http

from .config import EmulatorConfig
from .emulator import Emulator
from .serving import bind_socket, url_for

RUNNER = Runner("gemini-interactions-emulator")


def build_parser() -> argparse.ArgumentParser:
    defaults = EmulatorConfig()
    p = RUNNER.parser(
        "A local emulator of the Gemini Interactions API, for the real google-genai SDK. "
        "Loopback only; any API key works.",
        log_level="WARNING",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (127.0.0.1, ::1 or localhost)"
    )
    p.add_argument("--port", type=int, default=8765, help="port to bind; 0 picks a free one (default 8765)")
    p.add_argument(
        "--research-seconds",
        type=float,
        default=defaults.research_seconds,
        help="how long a Deep Research job runs (default %(default)s)",
    )
    p.add_argument(
        "--research-steps",
        type=int,
        default=defaults.research_steps,
        help="thought/search rounds per research job (default %(default)s)",
    )
    p.add_argument(
        "--report-chars",
        type=int,
        default=defaults.report_chars,
        help="approximate length of a research report (default %(default)s)",
    )
    p.add_argument(
        "--text-delay",
        type=float,
        default=defaults.text_delay_seconds,
        help="seconds a text model takes to answer (default %(default)s)",
    )
    p.add_argument(
        "--image-delay",
        type=float,
        default=defaults.image_delay_seconds,
        help="seconds an image model takes to answer (default %(default)s)",
    )
    p.add_argument(
        "--retry-after",
        type=float,
        default=defaults.retry_after_seconds,
        help="retry-after seconds sent with 429 answers (default %(default)s)",
    )
    p.add_argument(
        "--stream-cut-seconds",
        type=float,
        default=defaults.stream_cut_seconds,
        help="cut every stream silently after this many seconds, as the real service does at 600 (0: never)",
    )
    p.add_argument(
        "--sparse-event-ids",
        action="store_true",
        help="leave event_id off step.delta events, like the real service sometimes does",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    RUNNER.start(args)
    config = EmulatorConfig(
        research_seconds=args.research_seconds,
        research_steps=args.research_steps,
        report_chars=args.report_chars,
        text_delay_seconds=args.text_delay,
        image_delay_seconds=args.image_delay,
        retry_after_seconds=args.retry_after,
        sparse_event_ids=args.sparse_event_ids,
        stream_cut_seconds=args.stream_cut_seconds,
    )
    try:
        sock = bind_socket(args.host, args.port)
    except ValueError as err:
        RUNNER.die(str(err))
    except OSError as err:
        RUNNER.die(
            f"cannot bind {args.host}:{args.port}: {err}. Pick another --port (0 picks a free one).", 1
        )
    url = url_for(sock)
    emu = Emulator(config)
    print(f"Gemini Interactions API emulator listening on {url}", flush=True)
    print(f"  export GOOGLE_GEMINI_BASE_URL={url}", flush=True)
    print(
        "  any API key works (keys starting with 'bad' are rejected; 'free' keys get no Deep Research)",
        flush=True,
    )
    print(f"  control: {url}/_emulator/stats  {url}/_emulator/faults  {url}/_emulator/reset", flush=True)
    try:
        RUNNER.run(serve_http, emu.app, sock, lifespan="on", grace_seconds=2)
    finally:
        sock.close()
    RUNNER.say("emulator stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
