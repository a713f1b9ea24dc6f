"""``gemini-interactions-admin token-hash``: the tokens-file line for a new or given token, as a real process."""

from __future__ import annotations

import hashlib
import subprocess
import sys

ADMIN = [sys.executable, "-c", "from server.admin.cli import main; main()"]


def _admin(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ADMIN, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_a_new_token_is_printed_once_with_its_line() -> None:
    done = _admin("token-hash", "alice")
    assert done.returncode == 0, done.stderr
    announce, line = done.stdout.strip().splitlines()
    token = announce.rsplit(": ", 1)[1]
    assert len(token) >= 32
    assert line == f"alice: {hashlib.sha256(token.encode()).hexdigest()}"
    assert _admin("token-hash", "alice").stdout != done.stdout  # a fresh token each time


def test_a_given_token_is_hashed_and_not_echoed() -> None:
    token = "s3cret-" + "x" * 40
    done = _admin("token-hash", "bob@example.com", "--stdin", stdin=token + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"bob@example.com: {hashlib.sha256(token.encode()).hexdigest()}\n"
    assert token not in done.stderr


def test_bad_names_and_short_tokens_are_refused_with_what_to_do() -> None:
    bad_name = _admin("token-hash", "alice: root")
    assert bad_name.returncode == 2 and "not a usable name" in bad_name.stderr
    short = _admin("token-hash", "carol", "--stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 32 characters" in short.stderr
    assert not short.stdout


def test_every_subcommand_is_listed_in_the_help() -> None:
    done = _admin("--help")
    assert done.returncode == 0 and "token-hash" in done.stdout
