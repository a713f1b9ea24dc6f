"""Our commands as subprocesses on free loopback ports, stopped as an orchestrator stops them, and what
``/proc`` and their logs say about them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from .env import REPO, SCRIPTS, free_port

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)/slack/events")
START_TIMEOUT = 40.0

T = TypeVar("T")


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15.0) -> int:
    """SIGTERM, wait (bounded), SIGKILL as a last resort; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise
    return int(proc.returncode)


def wait_until(
    ready: Callable[[], T | None],
    proc: subprocess.Popen[Any],
    log: Path,
    what: str,
    timeout: float = START_TIMEOUT,
) -> T:
    """Poll ``ready()`` until it returns something true; fail with the log if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        found = ready()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not start:\n{log.read_text(errors='replace')}")


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(base: str, proc: subprocess.Popen[Any], log: Path, timeout: float = 30.0) -> None:
    """Wait (bounded) until the HTTP server at ``base`` answers ``/healthz``; fail with its log if it exits."""
    wait_until(lambda: healthy(base), proc, log, "the server", timeout)


def readiness(base: str) -> tuple[int, dict[str, Any]]:
    """``GET /readyz``: the status code and the body (0 and {} when nothing answers)."""
    try:
        response = httpx.get(f"{base}/readyz", timeout=2.0)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


def wait_ready(base: str, proc: subprocess.Popen[Any], log: Path, timeout: float = 30.0) -> dict[str, Any]:
    """Wait (bounded) until ``/readyz`` answers 200; its body. Fails with the log if the process exits."""

    def ready() -> dict[str, Any] | None:
        status, body = readiness(base)
        return body if status == 200 else None

    return wait_until(ready, proc, log, "readiness", timeout)


@contextmanager
def mcp_http_process(
    env: dict[str, str], log: Path, *args: str, host: str = "127.0.0.1", port: int | None = None
) -> Iterator[ServerProcess]:
    """``gemini-interactions-mcp --transport http`` on ``port`` (default: a free one) of ``host`` (a loopback
    address), until SIGTERM."""
    port = port or free_port()
    command = [str(SCRIPTS / "gemini-interactions-mcp"), "--transport", "http", "--port", str(port), *args]
    command += ["--host", host]
    with log.open("wb") as err:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env, cwd=REPO)
    base = f"http://{host}:{port}"
    try:
        wait_until(lambda: healthy(base), proc, log, "the MCP server")
        yield ServerProcess(proc, log, f"{base}/mcp")
    finally:
        stop_process(proc)


@contextmanager
def slack_http_process(env: dict[str, str], log: Path, *args: str) -> Iterator[ServerProcess]:
    """``gemini-interactions-slack`` in HTTP mode on a free loopback port, until SIGTERM."""
    command = [str(SCRIPTS / "gemini-interactions-slack"), "--port", "0", *args]
    with log.open("wb") as err:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env, cwd=REPO)

    def listening() -> str | None:
        match = LISTENING.search(log.read_text(errors="replace"))
        return match.group(1) if match else None

    try:
        base = wait_until(listening, proc, log, "the Slack bot")
        wait_until(lambda: healthy(base), proc, log, "the Slack bot")
        yield ServerProcess(proc, log, base)
    finally:
        stop_process(proc)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a JSON-lines log, parsed; fails on the first line that is not a JSON object."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"log line {number} is not JSON: {line!r}") from None
        assert isinstance(record, dict), line
        records.append(record)
    return records
