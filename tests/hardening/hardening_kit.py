"""Helpers for the hardening tests (imported by name, like the other suites' testkits): settings, MCP clients in
memory and over HTTP, the servers as subprocesses on free loopback ports, and what /proc says about them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer

from server.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TEST_KEY = "test-key"
SCRIPTS = Path(sys.executable).parent  # the venv's console scripts
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)/slack/events")
START_TIMEOUT = 40.0

# What a stdio MCP host passes to its servers on POSIX (the SDK's allow-list); everything else is explicit.
_HOST_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "TMPDIR")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(data_dir: Path, base_url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "base_url": base_url,
        "api_key": TEST_KEY,
        "poll_seconds": 0.05,
        "request_timeout_seconds": 10.0,
        "stream_read_timeout_seconds": 2.0,
        "lease_seconds": 2.0,
    }
    return Settings(**(values | overrides))


def host_env(**extra: str) -> dict[str, str]:
    return {name: os.environ[name] for name in _HOST_ENV if name in os.environ} | extra


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", None) == "text")


@asynccontextmanager
async def connect(server: MCPServer[Any], mode: str = "auto") -> AsyncIterator[Client]:
    """An in-memory MCP client; on the way out it waits for the store to be open (a quick close is untested)."""
    async with Client(server, mode=mode, raise_exceptions=True) as client:  # type: ignore[arg-type]
        try:
            yield client
        finally:
            with anyio.fail_after(30):
                await client.call_tool("list_research", {"limit": 1})


@asynccontextmanager
async def http_client(url: str, token: str, mode: str = "auto") -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
            yield client


async def other_tasks() -> set[Any]:
    """The tasks of the running loop except the caller (e.g. a portal's own, to leave alone when draining)."""
    import asyncio

    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def drain_stray_tasks(keep: set[Any] | frozenset[Any] = frozenset(), timeout: float = 5.0) -> list[str]:
    """Let SQLAlchemy's connection-closing tasks finish before the event loop closes.

    A statement cut short by cancellation used to leave SQLAlchemy's aiosqlite ``_terminate_graceful_close`` task
    behind, outside any task group; cancelled at loop shutdown, it could wait forever and hang the loop (a whole
    run hung here). The store now shields connection use from cancellation (9048ad3); this stays as a cheap guard
    so a regression fails a test instead of hanging the suite. Waits for such tasks, then cancels (twice) those
    still pending; ``keep`` are never touched. Returns the names it had to cancel.
    """
    import asyncio

    strays = {
        task
        for task in await other_tasks() - set(keep)
        if "_terminate_graceful_close" in getattr(task.get_coro(), "__qualname__", "")
    }
    if not strays:
        return []
    _done, pending = await asyncio.wait(strays, timeout=timeout)
    cancelled = sorted(task.get_name() for task in pending)
    for _attempt in range(2):
        for task in pending:
            task.cancel()
        if pending:
            _done, pending = await asyncio.wait(pending, timeout=1.0)
    return cancelled


# -- the servers as subprocesses ------------------------------------------------------------------------------


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


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
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


def _wait_until(ready: Any, proc: subprocess.Popen[bytes], log: Path, what: str) -> Any:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        found = ready()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not start:\n{log.read_text(errors='replace')}")


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def mcp_http_process(env: dict[str, str], log: Path, *args: str) -> Iterator[ServerProcess]:
    """``gemini-interactions-mcp --transport http`` on a free loopback port, until SIGTERM."""
    port = free_port()
    command = [str(SCRIPTS / "gemini-interactions-mcp"), "--transport", "http", "--port", str(port), *args]
    with log.open("wb") as err:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _healthy(base), proc, log, "the MCP server")
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
        base = _wait_until(listening, proc, log, "the Slack bot")
        _wait_until(lambda: _healthy(base), proc, log, "the Slack bot")
        yield ServerProcess(proc, log, base)
    finally:
        stop_process(proc)


# -- what /proc says --------------------------------------------------------------------------------------------


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
