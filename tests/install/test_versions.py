"""One version everywhere: pyproject.toml's is what every command's ``--version`` prints, what the MCP server
reports as ``serverInfo.version``, and what the bundle manifest and the registry entry carry."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from server.core import Settings, package_version
from server.mcp.app import build_server
from tests.support.env import REPO, SCRIPTS
from tests.support.mcp import connect

pytestmark = pytest.mark.anyio

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_installed_version_is_pyprojects() -> None:
    assert package_version() == PROJECT["version"]
    assert json.loads((REPO / "manifest.json").read_text())["version"] == PROJECT["version"]
    assert json.loads((REPO / "server.json").read_text())["version"] == PROJECT["version"]


@pytest.mark.parametrize("script", sorted(PROJECT["scripts"]))
def test_every_command_prints_the_version(script: str) -> None:
    result = subprocess.run(
        [str(SCRIPTS / script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == PROJECT["version"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # the 2026-07-28 protocol, and 2025-11-25's initialize
async def test_the_mcp_server_reports_the_version(tmp_path: Path, mode: str) -> None:
    async with connect(build_server(Settings(data_dir=tmp_path, api_key="test-key")), mode) as client:
        assert client.server_info is not None
        assert (client.server_info.name, client.server_info.version) == (
            "gemini-interactions",
            PROJECT["version"],
        )
