"""MCP clients for tests: in memory, over HTTP, and what they hear."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.types import ResourceUpdatedNotification

MODES = ("auto", "legacy")  # auto negotiates 2026-07-28 with our server; legacy forces 2025-11-25
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def initialize_request(client_name: str) -> dict[str, Any]:
    """A raw 2025-11-25 ``initialize`` JSON-RPC request, for tests that speak HTTP without an MCP client."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": client_name, "version": "0"},
        },
    }


@asynccontextmanager
async def connect(server: MCPServer[Any], mode: str = "auto", **kwargs: Any) -> AsyncIterator[Client]:
    """An in-memory MCP client; on the way out it waits for the store to be open (a quick close is untested)."""
    async with Client(server, mode=mode, raise_exceptions=True, **kwargs) as client:
        try:
            yield client
        finally:
            # Leave only once the core's store has opened: closing the core while Store.open is still running
            # leaves an aiosqlite close task that hangs the event loop's shutdown.
            with anyio.fail_after(30):
                await client.call_tool("list_research", {"limit": 1})


@asynccontextmanager
async def http_client(url: str, token: str, mode: str = "auto") -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", None) == "text")


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "server", *args]


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


async def start_research(client: Client, prompt: str) -> str:
    """Start a research run; its id."""
    result = await client.call_tool("start_research", {"prompt": prompt})
    assert not result.is_error, text_of(result)
    return str(result.structured_content["interaction_id"])


async def wait_until_finished(client: Client, interaction_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """Ask research_status until the run is no longer in progress; its last structured status."""
    with anyio.fail_after(timeout):
        for _ in range(400):
            result = await client.call_tool("research_status", {"interaction_id": interaction_id})
            assert not result.is_error, text_of(result)
            if result.structured_content["status"] != "in_progress":
                return dict(result.structured_content)
            await anyio.sleep(0.05)
    raise AssertionError(f"research {interaction_id} did not finish")
