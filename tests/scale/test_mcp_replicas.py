"""Scale out the MCP server over HTTP: two ``gemini-interactions-mcp`` processes on one PostgreSQL database.

A job started on one replica is answered by the other (``research_status``, the ``research://`` resource), its
subscribers there hear when it finishes (PostgreSQL LISTEN/NOTIFY), and a 2026-07-28 client behind a plain
round-robin balancer (no sticky sessions) works, each request landing on the other replica.
"""

from __future__ import annotations

import itertools
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
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ResourceUpdatedNotification

from server.emulator import EmulatorHandle

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def replicas(emulator: EmulatorHandle, pg_url: str, root: Path, count: int) -> Iterator[list[Replica]]:
    started: list[Replica] = []
    try:
        for n in range(count):
            port, log = _free_port(), root / f"mcp-{n}.log"
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
            _wait_healthy(replica)
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


def _wait_healthy(replica: Replica, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise AssertionError(
                f"replica exited with {replica.process.returncode}:\n{replica.log.read_text()}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{replica.port}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"replica did not become healthy:\n{replica.log.read_text()}")


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
        async with Client(streamable_http_client(url, http_client=http), mode=mode, **kwargs) as connected:  # type: ignore[arg-type]
            yield connected


async def _status(on: Client, interaction_id: str) -> dict[str, Any]:
    result = await on.call_tool("research_status", {"interaction_id": interaction_id})
    assert not result.is_error, result.content
    return dict(result.structured_content or {})


async def test_a_job_started_on_one_replica_is_followed_from_the_other(
    emulator: EmulatorHandle, pg_url: str, tmp_path: Path
) -> None:
    heard: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            heard.append(str(message.params.uri))
            arrived.set()

    with replicas(emulator, pg_url, tmp_path, 2) as (a, b):
        async with (
            client(a.url, "auto") as on_a,
            client(b.url, "legacy", message_handler=on_message) as legacy_b,
            client(b.url, "auto") as modern_b,
        ):
            started = await on_a.call_tool("start_research", {"prompt": f"replicated research {RUN}"})
            assert not started.is_error, started.content
            iid = str((started.structured_content or {})["interaction_id"])
            uri = f"research://{iid}"
            with pytest.warns(MCPDeprecationWarning):
                await legacy_b.subscribe_resource(uri)
            modern_updates = 0
            async with modern_b.listen(resource_subscriptions=[uri]) as subscription:
                with anyio.fail_after(30):
                    async for event in subscription:
                        assert event.uri == uri
                        modern_updates += 1
                        if (await _status(modern_b, iid))["status"] == "completed":
                            break
            with anyio.fail_after(10):
                await arrived.wait()  # the 2025-11-25 subscriber on b heard it too

            on_b = await _status(legacy_b, iid)
            report = (await modern_b.read_resource(uri)).contents[0]
            listed = await legacy_b.call_tool("list_research", {})
        assert set(heard) == {uri} and modern_updates >= 1
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
