"""The MCP server over HTTP with Gemini's webhooks: ``POST /gemini/webhooks`` served beside ``/mcp`` (only when
configured), and a research run started over MCP finished by the delivery, not by a stream or a poll."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.core import WEBHOOK_PATH, Settings
from server.emulator import EmulatorHandle
from server.mcp.app import build_server
from server.mcp.auth import http_security
from server.mcp.routes import http_app
from tests.support.env import TEST_KEY, free_port, host_env
from tests.support.mcp import start_research, wait_until_finished
from tests.support.processes import mcp_http_process
from tests.support.webhooks import register

from .test_mcp_http import http_client

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-token-for-tests-only"


async def test_the_route_exists_only_when_webhooks_are_configured(settings: Settings) -> None:
    security = http_security("127.0.0.1", 8000, None)
    secret = "whsec_" + "QUJD" * 8
    for configured, expected in ((False, 404), (True, 503)):  # 503: served, but the core is not running here
        overrides = {"public_url": "https://gi.example", "webhook_secret": secret} if configured else {}
        configured_settings = settings.model_copy(update=overrides)
        server = build_server(configured_settings, transport="http", security=security)
        app = http_app(server, host="127.0.0.1", security=security, settings=configured_settings)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http:
            assert (await http.post(WEBHOOK_PATH, content=b"{}")).status_code == expected


async def test_a_run_started_over_mcp_is_finished_by_its_delivery(
    emulator: EmulatorHandle, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = await register(settings, base + WEBHOOK_PATH)
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "server"),
        GEMINI_INTERACTIONS_MCP_TOKEN=TOKEN,
        GEMINI_INTERACTIONS_PUBLIC_URL=base,
        GEMINI_INTERACTIONS_WEBHOOK_SECRET=secret,
        GEMINI_INTERACTIONS_WEBHOOK_SAFETY_POLL_SECONDS="120",
    )
    try:
        with mcp_http_process(env, tmp_path / "server.log", port=port) as served:
            async with http_client(served.url, "auto", TOKEN) as client:
                run = await start_research(client, "tides")
                status = await wait_until_finished(client, run, timeout=20)
            output = served.output()
    finally:
        emulator.emulator.webhooks.reset()
    assert status["status"] == "completed"
    assert "Gemini webhooks on: deliveries to" in output and secret not in output
    assert emulator.stats.requests_for(run) == {"create": 1, "get": 1}
