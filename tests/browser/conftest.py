"""Fixtures for the browser tests: the view built fresh, Chromium, and our server over stdio as an MCP Apps host
sees it (the client advertises the extension)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from server.emulator import EmulatorHandle
from tests.support.browser import Assets, Missing, build_assets, stdio_apps_client
from tests.support.env import TEST_KEY, host_env


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    """A fresh build of the view and the test host page. Missing Chromium or node: a skip, a failure in CI."""
    try:
        return build_assets(tmp_path_factory.mktemp("apps"))
    except Missing as missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the browser tests to run: {missing}")
        pytest.skip(str(missing))


@pytest.fixture
async def apps_client(emulator: EmulatorHandle, tmp_path: Path) -> AsyncIterator[Client]:
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
    )
    async with stdio_apps_client(env, tmp_path / "server.log") as client:
        yield client
