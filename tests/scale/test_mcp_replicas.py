"""Scale out the MCP server over HTTP: two ``gemini-interactions-mcp`` processes on one PostgreSQL database.

A job started on one replica is answered by the other (``research_status``, the ``research://`` resource), its
subscribers there hear when it finishes (PostgreSQL LISTEN/NOTIFY), and a 2026-07-28 client behind a plain
round-robin balancer (no sticky sessions) works, each request landing on the other replica.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning

from server.emulator import EmulatorHandle
from tests.support.env import REPO, free_port
from tests.support.mcp import ResourceUpdates, updates_until_completed
from tests.support.processes import wait_healthy

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.scale]

TOKEN = "replica-token-for-tests-only"
RUN = "[emulator:research_seconds=2]"


@dataclass
class Replica:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


@contextmanager
def replicas(emulator: EmulatorHandle, pg_url: str, root: Path, count: int) -> Iterator[list[Replica]]:
    started: list[Replica] = []
    try:
        for n in range(count):
            port, log = free_port(), root / f"mcp-{n}.log"
            env = {
                "PATH": "/usr/bin:/bin",
                "HOME": str(root),
                "GEMINI_API_KEY": "test-key",
                "GOOGLE_GEMINI_BASE_URL": emulator.url,
                "GEMINI_INTERACTIONS_DATA_DIR": str(root / f"data-{n}"),
                "GEMINI_INTERACTIONS_DATABASE_URL": pg_url,
                "GEMINI_INTERACTIONS_MCP_TOKEN": TOKEN,
                "GEMINI_INTERACTIONS_POLL_SECONDS": "0.05",
                "GEMINI_INTERACTIONS_LEASE_SECONDS": "2",
            }
            command = [sys.executable, "-m", "server", "--transport", "http", "--port", str(port)]
            with log.open("w") as out:
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, cwd=REPO
                )
            started.append(Replica(port, process, log))
        for replica in started:
            wait_healthy(f"http://127.0.0.1:{replica.port}", replica.process, replica.log)
        yield started
    finally:
        for replica in started:
            if replica.process.poll() is None:
                replica.process.terminate()
        for replica in started:
            try:
                replica.process.wait(15)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait(5)


class RoundRobin(httpx2.AsyncBaseTransport):
    """A plain load balancer: each request goes to the next replica, whatever session it belongs to."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = itertools.cycle(ports)
        self._inner = httpx2.AsyncHTTPTransport()
        self.sent: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self._ports)
        self.sent.append(port)
        request.url = request.url.copy_with(port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@asynccontextmanager
async def client(
    url: str, mode: str, *, transport: httpx2.AsyncBaseTransport | None = None, **kwargs: Any
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30, transport=transport) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, **kwargs) as connected:
            yield connected


async def _status(on: Client, interaction_id: str) -> dict[str, Any]:
    result = await on.call_tool("research_status", {"interaction_id": interaction_id})
    assert not result.is_error, result.content
    return dict(result.structured_content or {})


async def test_a_job_started_on_one_replica_is_followed_from_the_other(
    emulator: EmulatorHandle, pg_url: str, tmp_path: Path
) -> None:
    updates = ResourceUpdates()
    with replicas(emulator, pg_url, tmp_path, 2) as (a, b):
        async with (
            client(a.url, "auto") as on_a,
            client(b.url, "legacy", message_handler=updates) as legacy_b,
            client(b.url, "auto") as modern_b,
        ):
            started = await on_a.call_tool("start_research", {"prompt": f"replicated research {RUN}"})
            assert not started.is_error, started.content
            iid = str((started.structured_content or {})["interaction_id"])
            uri = f"research://{iid}"
            with pytest.warns(MCPDeprecationWarning):
                await legacy_b.subscribe_resource(uri)
            modern_updates = await updates_until_completed(modern_b, iid)
            with anyio.fail_after(10):
                await updates.arrived.wait()  # the 2025-11-25 subscriber on b heard it too

            on_b = await _status(legacy_b, iid)
            report = (await modern_b.read_resource(uri)).contents[0]
            listed = await legacy_b.call_tool("list_research", {})
        assert set(updates.heard) == {uri} and modern_updates >= 1
        assert on_b["status"] == "completed" and on_b["total_chars"] > 1000
        assert getattr(report, "text", "").startswith("# ")
        assert [j["interaction_id"] for j in (listed.structured_content or {})["jobs"]] == [iid]
        assert emulator.emulator.stats.requests_for(iid).get("create") == 1


async def test_a_2026_client_needs_no_sticky_sessions(
    emulator: EmulatorHandle, pg_url: str, tmp_path: Path
) -> None:
    with replicas(emulator, pg_url, tmp_path, 2) as (a, b):
        balancer = RoundRobin([a.port, b.port])
        async with client(a.url, "auto", transport=balancer) as behind_lb:
            started = await behind_lb.call_tool("start_research", {"prompt": f"balanced research {RUN}"})
            assert not started.is_error, started.content
            iid = str((started.structured_content or {})["interaction_id"])
            with anyio.fail_after(30):
                for _ in range(300):
                    status = await _status(behind_lb, iid)
                    if status["status"] != "in_progress":
                        break
                    await anyio.sleep(0.1)
            answer = await behind_lb.call_tool("ask", {"prompt": "Say hello"})
        assert status["status"] == "completed" and status["total_chars"] > 1000
        assert not answer.is_error
        assert {a.port, b.port} <= set(balancer.sent) and len(balancer.sent) >= 4
