"""Fixtures for the MCP front door: the emulator (one per test module, on a free loopback port), settings that
point at it with a data dir under tmp_path, and the protocol era to test in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp.server import MCPServer

from server.core import Settings
from server.emulator import EmulatorConfig, EmulatorHandle
from server.mcp.app import build_server
from tests.support.env import make_settings
from tests.support.mcp import MODES


@pytest.fixture(scope="module")
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(research_seconds=0.6, research_steps=2, report_chars=12000)


@pytest.fixture
def settings(emulator: EmulatorHandle, tmp_path: Path, clean_env: None) -> Settings:
    return make_settings(tmp_path / "data", emulator.url)


@pytest.fixture
def server(settings: Settings) -> MCPServer[Any]:
    return build_server(settings)


@pytest.fixture(params=MODES, ids=["modern", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)
