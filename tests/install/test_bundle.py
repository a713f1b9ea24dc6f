"""The Claude Desktop bundle as CI builds it: the official CLI (npm @anthropic-ai/mcpb) validates and packs it; it
is unpacked into a clean folder and started with the command and arguments read from the unpacked manifest.json,
filled in as Claude Desktop fills them, and it lists the manifest's tools."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from .kit import (
    TEST_KEY,
    as_claude_desktop,
    clean_copy,
    isolated_env,
    mcpb,
    run,
    shipped_files,
    start_and_list,
    uv,
)

pytestmark = [pytest.mark.packaging, pytest.mark.anyio]

# What `uv run` needs to install and start the server; nothing else goes into the bundle.
BUNDLE_ROOT = {"manifest.json", "pyproject.toml", "uv.lock", "README.md", "LICENSE", "server", "slack_bot"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tool = mcpb()
    project = clean_copy(tmp_path_factory.mktemp("project"))
    run([tool, "validate", project / "manifest.json"], cwd=project)
    out = tmp_path_factory.mktemp("bundle") / "gemini-interactions.mcpb"
    run([tool, "pack", project, out], cwd=project)
    return out


def test_the_bundle_holds_the_project_and_nothing_else(bundle: Path) -> None:
    names = zipfile.ZipFile(bundle).namelist()
    assert {name.split("/")[0] for name in names} == BUNDLE_ROOT
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    for package in ("server", "slack_bot"):
        assert set(shipped_files(package)) <= set(names), f"files under {package}/ missing from the bundle"


async def test_unpacked_bundle_starts_as_claude_desktop_starts_it(bundle: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "Claude Extensions" / "gemini-interactions"
    run([mcpb(), "unpack", bundle, unpacked], cwd=tmp_path)
    data = json.loads((unpacked / "manifest.json").read_text(encoding="utf-8"))
    assert (unpacked / data["server"]["entry_point"]).is_file()
    home = tmp_path / "home"

    # The key given, the optional fields left empty: the defaults must do.
    command, args, env = as_claude_desktop(data, dirname=unpacked, values={"gemini_api_key": TEST_KEY})
    assert command == "uv" and "${" not in " ".join([*args, *env.values()])
    # Claude Desktop runs its own uv with these arguments; here, the uv running the tests.
    offered = await start_and_list(
        uv(), args, env=isolated_env(home) | env, cwd=tmp_path, errlog=tmp_path / "server.log"
    )
    assert (offered.server_name, offered.server_version) == (data["name"], data["version"])
    assert offered.tools == {tool["name"] for tool in data["tools"]}
    assert set(offered.prompts) == {prompt["name"] for prompt in data["prompts"]}
    assert (home / "data" / "gemini-interactions" / "gemini-interactions.sqlite3").exists()

    # A data folder chosen in Claude Desktop's settings is where the server keeps its database.
    chosen = tmp_path / "chosen data"
    _, args, env = as_claude_desktop(
        data, dirname=unpacked, values={"gemini_api_key": TEST_KEY, "data_dir": str(chosen)}
    )
    await start_and_list(
        uv(), args, env=isolated_env(home) | env, cwd=tmp_path, errlog=tmp_path / "server.log"
    )
    assert (chosen / "gemini-interactions.sqlite3").exists()
