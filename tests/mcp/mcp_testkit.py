"""Helpers for the MCP tests (imported by name: tests/mcp is not a package, it would shadow the SDK's ``mcp``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client
from mcp.server import MCPServer
from mcp.types import ResourceUpdatedNotification

from server.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
MODES = ("auto", "legacy")  # auto negotiates 2026-07-28 with our server; legacy forces 2025-11-25
TEST_KEY = "test-key"

# What a stdio MCP host passes to its servers on POSIX (the SDK's allow-list); everything else is explicit.
_HOST_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")


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
    }
    return Settings(**(values | overrides))


@asynccontextmanager
async def connect(server: MCPServer[Any], mode: str, **kwargs: Any) -> AsyncIterator[Client]:
    async with Client(server, mode=mode, raise_exceptions=True, **kwargs) as client:  # type: ignore[arg-type]
        try:
            yield client
        finally:
            # Leave only once the core's store has opened: closing the core while Store.open is still running
            # leaves an aiosqlite close task that hangs the event loop's shutdown (a core bug, reported).
            with anyio.fail_after(30):
                await client.call_tool("list_research", {"limit": 1})


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", None) == "text")


def host_env(**extra: str) -> dict[str, str]:
    """The environment a stdio host gives a server: its allow-list plus what we pass explicitly."""
    return {name: os.environ[name] for name in _HOST_ENV if name in os.environ} | extra


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "server", *args]


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int:
    """SIGTERM, wait (bounded), SIGKILL as a last resort; returns the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise
    return int(proc.returncode)


def wait_healthy(base: str, proc: subprocess.Popen[Any], log: Path, timeout: float = 30.0) -> None:
    """Wait (bounded) until the HTTP server at ``base`` answers ``/healthz``; fail with its log if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the server did not become healthy:\n{log.read_text()}")


class ResourceUpdates:
    """A client ``message_handler`` that keeps the URIs of ``notifications/resources/updated`` (2025-11-25)."""

    def __init__(self) -> None:
        self.heard: list[str] = []
        self.arrived = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.heard.append(str(message.params.uri))
            self.arrived.set()


async def updates_until_completed(client: Client, interaction_id: str, timeout: float = 30.0) -> int:
    """Listen (2026-07-28) to ``research://<id>`` until the job has completed; how many updates arrived."""
    uri = f"research://{interaction_id}"
    updates = 0
    async with client.listen(resource_subscriptions=[uri]) as subscription:
        with anyio.fail_after(timeout):
            async for event in subscription:
                assert event.uri == uri
                updates += 1
                status = await client.call_tool("research_status", {"interaction_id": interaction_id})
                if (status.structured_content or {}).get("status") == "completed":
                    break
    return updates
