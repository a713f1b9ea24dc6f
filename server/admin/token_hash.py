"""``token-hash``: the line for ``GEMINI_INTERACTIONS_MCP_TOKENS_FILE`` that names a new bearer token.

The server keeps only the SHA-256 of each token (``name: <hex>``); the plain token is printed once, here, for its
holder. Without ``--stdin`` a new random token is made (32 bytes from ``secrets``, URL-safe). Calls made with
it belong to ``token:<name>``.
"""

from __future__ import annotations

import argparse
import secrets
import sys

from server.core import TOKEN_NAME, TOKEN_NAME_RULE, Runner, token_digest

MIN_TOKEN_CHARS = 32


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "token-hash",
        help="make a bearer token for one person and print its line for the tokens file",
        description=__doc__,
    )
    parser.add_argument("name", help="who holds the token: letters, digits, '.', '_', '@', '-' (max 64)")
    parser.add_argument(
        "--stdin", action="store_true", help="hash a token read from standard input instead of making one"
    )
    parser.set_defaults(handler=run)


def token_line(name: str, token: str) -> str:
    return f"{name}: {token_digest(token)}"


def run(args: argparse.Namespace, runner: Runner) -> int:
    if not TOKEN_NAME.fullmatch(args.name):
        runner.die(f"{args.name!r} is not a usable name: use {TOKEN_NAME_RULE}.")
    if args.stdin:
        token = sys.stdin.read().strip()
        if len(token) < MIN_TOKEN_CHARS:
            runner.die(f"the token must be at least {MIN_TOKEN_CHARS} characters long.")
    else:
        token = secrets.token_urlsafe(32)
        print(f"token for {args.name} (give it to them; it is not stored anywhere): {token}")
    print(token_line(args.name, token))
    return 0
