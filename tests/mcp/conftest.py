"""Fixtures for the MCP front door: the emulator (one per test module, on a free loopback port), settings that
point at it with a data dir under tmp_path, and the protocol era to test in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server import MCPServer
from mcp_testkit import MODES, make_settings

from server.core.settings import Settings
from server.emulator import EmulatorConfig, EmulatorHandle, run_emulator_in_thread
from server.mcp_app import build_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    config = EmulatorConfig(research_seconds=0.6, research_steps=2, report_chars=12000)
    handle = run_emulator_in_thread(config, host="127.0.0.1", port=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def faults(emulator: EmulatorHandle) -> Iterator[Any]:
    emulator.faults.clear()
    yield emulator.faults
    emulator.faults.clear()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, base URL or GEMINI_INTERACTIONS_* setting leaks in from the developer's environment."""
    for name in list(os.environ):
        if name.startswith("GEMINI_INTERACTIONS_") or name in (
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "GOOGLE_GEMINI_BASE_URL",
            "GOOGLE_GENAI_USE_VERTEXAI",
        ):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(emulator: EmulatorHandle, tmp_path: Path, clean_env: None) -> Settings:
    return make_settings(tmp_path / "data", emulator.url)


@pytest.fixture
def server(settings: Settings) -> MCPServer[Any]:
    return build_server(settings)


@pytest.fixture(params=MODES, ids=["modern", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)
