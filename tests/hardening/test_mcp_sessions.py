"""2025-11-25 MCP sessions over HTTP: capped per owner, closed when idle. One client opening sessions and never
closing them (10,000 held 500 MB and locked every other caller out for 30 minutes) now fills only its own
quota, and an idle session gives its place back."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import httpx
import pytest

from server.emulator import EmulatorHandle
from server.mcp.access import bearer_access
from server.mcp.app import build_server
from server.mcp.auth import http_security
from server.mcp.routes import http_app
from tests.support.env import make_settings
from tests.support.identity import tokens_file
from tests.support.mcp import MCP_HEADERS, initialize_request
from tests.support.serving import loopback_socket, serving

pytestmark = pytest.mark.anyio

PER_OWNER = 2
IDLE_SECONDS = 1.0


async def test_sessions_are_capped_per_owner_and_idle_ones_give_their_place_back(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    sock = loopback_socket()
    # Two named tokens, two owners (token:alice, token:bob): what the session cap counts by.
    access = bearer_access(None, tokens_file(tmp_path, alice="alice-token", bob="bob-token"))
    security = http_security("127.0.0.1", sock.getsockname()[1], access)
    settings = make_settings(
        tmp_path / "data",
        emulator.url,
        mcp_sessions_per_owner=PER_OWNER,
        mcp_session_idle_seconds=IDLE_SECONDS,
    )
    server = build_server(settings, transport="http", security=security)
    app = http_app(server, host="127.0.0.1", security=security, settings=settings)
    async with serving(app, sock) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def open_session(token: str) -> httpx.Response:
            headers = MCP_HEADERS | {"Authorization": f"Bearer {token}"}
            return await http.post("/mcp", json=initialize_request("cap-test"), headers=headers)

        alice = [await open_session("alice-token") for _ in range(PER_OWNER)]
        assert [r.status_code for r in alice] == [200] * PER_OWNER
        refused = await open_session("alice-token")
        assert refused.status_code == 429
        assert f"the limit is {PER_OWNER}" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"] == "1"
        assert (await open_session("bob-token")).status_code == 200  # another owner is not locked out

        # Closing one (DELETE) gives its place back at once.
        closing = {
            "Authorization": "Bearer alice-token",
            "mcp-session-id": alice[0].headers["mcp-session-id"],
        }
        assert (
            await http.delete("/mcp", headers=closing | {"mcp-protocol-version": "2025-11-25"})
        ).is_success
        assert (await open_session("alice-token")).status_code == 200
        assert (await open_session("alice-token")).status_code == 429

        # Left idle, Alice's sessions close by themselves and she may open as many again.
        deadline = time.monotonic() + 20 * IDLE_SECONDS
        again = await open_session("alice-token")
        while again.status_code == 429 and time.monotonic() < deadline:
            await anyio.sleep(0.1)
            again = await open_session("alice-token")
        assert again.status_code == 200
