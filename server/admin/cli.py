"""``gemini-interactions-admin``: operator tasks on the command line.

Each group of subcommands lives in its own module with a ``register(subparsers)`` that adds its parser(s) and
sets ``handler`` (``args -> exit code``) on them; ``GROUPS`` lists those modules. Logging, settings and errors
are the shared runner's (``server.core.runner``); results go to stdout, everything else to stderr.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from server.core import Runner

from . import token_hash, usage, webhooks

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

#: One line per group of subcommands.
GROUPS: list[Register] = [
    token_hash.register,
    usage.register,
    webhooks.register,
]


def build_parser(runner: Runner) -> argparse.ArgumentParser:
    parser = runner.parser("Operator tasks for gemini-interactions.", log_level="WARNING")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in GROUPS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    runner = Runner("gemini-interactions-admin")
    args = build_parser(runner).parse_args(argv)
    runner.start(args)
    raise SystemExit(args.handler(args, runner))
