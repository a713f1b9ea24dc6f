"""The smaller holes: the bearer token as the environment gives it, the data dir's modes, and an image paid for
that could not be kept."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import anyio
import pytest

from server.core import load_settings
from server.emulator import EmulatorHandle
from server.mcp.app import build_server
from tests.support.env import REPO, TEST_KEY, free_port, host_env, make_settings
from tests.support.mcp import connect, server_command, text_of


def test_a_token_from_the_environment_is_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_INTERACTIONS_MCP_TOKEN", "  s3cret-token-with-a-newline\n")
    token = load_settings().mcp_token
    assert token is not None and token.get_secret_value() == "s3cret-token-with-a-newline"
    monkeypatch.setenv("GEMINI_INTERACTIONS_MCP_TOKEN", " \n ")
    assert load_settings().mcp_token is None


def test_off_loopback_a_short_token_is_refused(tmp_path: Path) -> None:
    # 31 characters once trimmed: the padding does not count.
    env = host_env(GEMINI_API_KEY=TEST_KEY, GEMINI_INTERACTIONS_MCP_TOKEN=f"  {'x' * 31}  \n")
    env["GEMINI_INTERACTIONS_DATA_DIR"] = str(tmp_path)
    args = server_command("--transport", "http", "--host", "0.0.0.0", "--port", str(free_port()))
    result = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "31-character" in result.stderr and "at least 32 characters" in result.stderr
    assert "x" * 31 not in result.stderr  # the token itself is never shown


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.anyio
async def test_the_data_dir_and_its_files_are_ours_alone(
    emulator: EmulatorHandle, tmp_path: Path, drained: None
) -> None:
    data = tmp_path / "data"
    server = build_server(make_settings(data, emulator.url))
    async with connect(server) as client:
        image = await client.call_tool("generate_image", {"prompt": "a fox"})
        assert not image.is_error, text_of(image)
        started = await client.call_tool(
            "start_research", {"prompt": "modes [emulator:research_seconds=0.2]"}
        )
        job = started.structured_content["interaction_id"]
        with anyio.fail_after(30):
            status = await client.call_tool("research_status", {"interaction_id": job})
            while status.structured_content["status"] != "completed":
                await anyio.sleep(0.1)
                status = await client.call_tool("research_status", {"interaction_id": job})
        database = data / "gemini-interactions.sqlite3"
        files = [
            database,
            database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm"),
            Path(image.structured_content["images"][0]["path"]),
            Path(status.structured_content["report_path"]),
        ]
        modes = {str(p.relative_to(data)): oct(_mode(p)) for p in files}
    folders = {str(p.relative_to(tmp_path)): oct(_mode(p)) for p in (data, data / "images", data / "reports")}
    assert folders == dict.fromkeys(folders, "0o700")
    assert modes == dict.fromkeys(modes, "0o600")
    assert not list(data.rglob("*.part"))


@pytest.mark.anyio
async def test_no_image_is_paid_for_when_it_could_not_be_kept(
    emulator: EmulatorHandle, tmp_path: Path, drained: None
) -> None:
    """Files cannot be created where images go (here a file stands where the folder should be; a folder the
    server may not write to is the same, but root, who runs CI, may write anywhere)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "images").write_text("not a folder")
    before = sum(emulator.stats.by_kind.values())
    async with connect(build_server(make_settings(data, emulator.url))) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})
    assert result.is_error
    assert "cannot write to" in text_of(result) and "nothing was charged" in text_of(result)
    assert sum(emulator.stats.by_kind.values()) == before  # Gemini was never asked
