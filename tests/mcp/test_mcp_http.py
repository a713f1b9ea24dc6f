"""The server over streamable HTTP, as a subprocess on a free loopback port: the bearer token, DNS-rebinding
protection, /healthz, research scoped to the token's owner, the refusal to bind elsewhere without a token, and a
clean exit on SIGTERM."""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from server.core.store.migrations import MIGRATIONS
from server.mcp.app import build_server
from tests.support.env import REPO, TEST_KEY, free_port, host_env, make_settings
from tests.support.mcp import MCP_HEADERS, connect, initialize_request, server_command, text_of
from tests.support.processes import readiness, stop_process, wait_healthy

TOKEN = "s3cret-token-for-tests-only"
INITIALIZE = initialize_request("raw-http-test")


@dataclass
class HttpServer:
    url: str
    data_dir: Path
    log: Path


@pytest.fixture(scope="module")
def http_server(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    root = tmp_path_factory.mktemp("http")
    port = free_port()
    log = root / "server.log"
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(root / "data"),
        GEMINI_INTERACTIONS_MCP_TOKEN=TOKEN,
        GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
    )
    args = server_command("--transport", "http", "--host", "127.0.0.1", "--port", str(port))
    with log.open("w") as err:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc, log)
        yield HttpServer(url=f"{base}/mcp", data_dir=root / "data", log=log)
    finally:
        code = stop_process(proc, timeout=15)
    output = log.read_text()
    assert code == 0, output
    assert "received SIGTERM; shutting down" in output
    assert TOKEN not in output  # never logged


@asynccontextmanager
async def http_client(url: str, mode: str, token: str = TOKEN) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client


def test_healthz_needs_no_token(http_server: HttpServer) -> None:
    response = httpx.get(http_server.url.removesuffix("/mcp") + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_needs_no_token_and_says_the_store_is_open(http_server: HttpServer) -> None:
    base = http_server.url.removesuffix("/mcp")
    deadline = time.monotonic() + 30
    while (found := readiness(base))[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.05)  # the store opens in the background, a moment after /healthz answers
    status, body = found
    assert status == 200 and body == {
        "ready": True,
        "store": "open",
        "migrations": MIGRATIONS[-1].__name__,
        "attempts": 1,
        "detail": "The job store is open and its migrations applied.",
    }
    foreign = httpx.get(f"{base}/readyz", headers={"Host": "elsewhere.example"}, timeout=5)
    assert foreign.status_code == 200  # like /healthz: for probes, whatever the Host header


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong-token"}, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, 200),
        ({"Authorization": f"Bearer {TOKEN}", "Host": "evil.example.com"}, 421),
        ({"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example.com"}, 403),
    ],
    ids=["no-token", "wrong-token", "token", "bad-host", "bad-origin"],
)
def test_mcp_endpoint_checks_token_host_and_origin(
    http_server: HttpServer, headers: dict[str, str], expected: int
) -> None:
    response = httpx.post(http_server.url, json=INITIALIZE, headers=MCP_HEADERS | headers, timeout=10)
    assert response.status_code == expected, response.text
    if expected == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.anyio
async def test_tools_work_with_the_token(http_server: HttpServer, mode: str, tmp_path: Path) -> None:
    attachment = tmp_path / "notes.txt"
    attachment.write_text("hello")
    with anyio.fail_after(60):
        async with http_client(http_server.url, mode) as client:
            tools = (await client.list_tools()).tools
            answer = await client.call_tool("ask", {"prompt": "Hello over HTTP"})
            follow_up = await client.call_tool(
                "continue_thread",
                {"interaction_id": answer.structured_content["interaction_id"], "prompt": "Again"},
            )
            refused = await client.call_tool("ask", {"prompt": "Read", "attachments": [str(attachment)]})
    assert len(tools) == 8
    assert 'You said: "Hello over HTTP"' in answer.structured_content["text"]
    assert "1 earlier turn" in follow_up.structured_content["text"]
    assert refused.is_error and "GEMINI_INTERACTIONS_FILE_ROOTS" in text_of(refused)


@pytest.mark.anyio
async def test_research_belongs_to_the_token_owner(http_server: HttpServer, mode: str) -> None:
    with anyio.fail_after(60):
        async with http_client(http_server.url, mode) as client:
            started = await client.call_tool(
                "start_research", {"prompt": "Heat pumps [emulator:research_seconds=0.3]"}
            )
            iid = started.structured_content["interaction_id"]
            for _ in range(300):
                status = await client.call_tool("research_status", {"interaction_id": iid})
                if status.structured_content["status"] != "in_progress":
                    break
                await anyio.sleep(0.05)
            mine = await client.call_tool("list_research", {})
            report = await client.read_resource(f"research://{iid}")
    assert status.structured_content["status"] == "completed"
    assert iid in [job["interaction_id"] for job in mine.structured_content["jobs"]]
    assert report.contents[0].text.startswith("# ")

    # The same store seen by a caller without that token (stdio-like, no owner): the job is not there.
    other = build_server(make_settings(http_server.data_dir, None))
    async with connect(other, mode) as stranger:
        theirs = await stranger.call_tool("list_research", {})
        peek = await stranger.call_tool("research_status", {"interaction_id": iid})
    assert iid not in [job["interaction_id"] for job in theirs.structured_content["jobs"]]
    assert peek.is_error and "No research run" in text_of(peek)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_non_loopback_bind_without_a_token_is_refused(tmp_path: Path, host: str) -> None:
    env = host_env(GEMINI_API_KEY=TEST_KEY, GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path))
    args = server_command("--transport", "http", "--host", host, "--port", str(free_port()))
    result = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "GEMINI_INTERACTIONS_MCP_TOKEN" in result.stderr and "not a loopback address" in result.stderr
