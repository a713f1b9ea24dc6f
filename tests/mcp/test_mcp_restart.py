"""A research run survives `kill -9` of the MCP server: restarted on the same data dir, it finishes once."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ResourceUpdatedNotification

from tests.support.env import REPO, TEST_KEY, free_port, host_env
from tests.support.mcp import server_command, text_of
from tests.support.processes import stop_process

pytestmark = pytest.mark.anyio


def start_server(emulator: Any, data_dir: Path, log: Path) -> tuple[subprocess.Popen[Any], str]:
    port = free_port()
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(data_dir),
        GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
    )
    proc = subprocess.Popen(
        server_command("--transport", "http", "--port", str(port)),
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return proc, f"{base}/mcp"
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the server did not start:\n{log.read_text()}")


async def test_research_survives_kill_9_and_finishes_once(emulator: Any, tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    first, url = start_server(emulator, data_dir, log)
    try:
        async with Client(url, mode="legacy") as client:
            started = await client.call_tool(
                "start_research", {"prompt": "Tidal power [emulator:research_seconds=3]"}
            )
            assert not started.is_error, text_of(started)
            iid = started.structured_content["interaction_id"]
        first.kill()  # kill -9: no lease released, no shutdown code
        first.wait(10)
        assert emulator.stats.completion(iid) is None, "the run must still be going upstream"
    finally:
        if first.poll() is None:
            first.kill()

    heard: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            heard.append(str(message.params.uri))

    second, url = start_server(emulator, data_dir, log)
    try:
        async with Client(url, mode="legacy", message_handler=on_message) as client:
            with pytest.warns(MCPDeprecationWarning):  # the 2025-11-25 way, which the Inspector and IDEs use
                await client.subscribe_resource(f"research://{iid}")
            with anyio.fail_after(30):
                while True:
                    status = await client.call_tool("research_status", {"interaction_id": iid})
                    assert not status.is_error, text_of(status)
                    if status.structured_content["status"] != "in_progress":
                        break
                    await anyio.sleep(0.1)
            report = await client.read_resource(f"research://{iid}")
            await anyio.sleep(0.5)  # a second notification would have arrived by now
    finally:
        assert stop_process(second) == 0
    assert status.structured_content["status"] == "completed"
    assert len(report.contents[0].text) > 5000
    assert set(heard) == {f"research://{iid}"}, "the subscriber after the restart hears of the job"
    assert emulator.stats.requests_for(iid).get("create") == 1, "the restart must not start a second run"
    assert not [c for c in emulator.stats.cancels if c.interaction_id == iid]
    assert [p.name for p in (data_dir / "reports").glob("*.md")] == [f"{iid}.md"]


async def test_a_plan_survives_kill_9_and_runs_once_after_approval(emulator: Any, tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    first, url = start_server(emulator, data_dir, log)
    try:
        async with Client(url, mode="legacy") as client:
            started = await client.call_tool(
                "start_research",
                {
                    "prompt": "Flywheels [emulator:plan_seconds=0.2][emulator:research_seconds=1]",
                    "plan_first": True,
                },
            )
            iid = started.structured_content["interaction_id"]
            with anyio.fail_after(30):
                while True:
                    status = await client.call_tool("research_status", {"interaction_id": iid})
                    if status.structured_content["status"] == "awaiting_approval":
                        break
                    await anyio.sleep(0.1)
        first.kill()  # kill -9 between the plan and its approval
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()

    second, url = start_server(emulator, data_dir, log)
    try:
        async with Client(url, mode="legacy") as client:
            waiting = await client.call_tool("research_status", {"interaction_id": iid})
            approved = await client.call_tool(
                "approve_research", {"interaction_id": iid, "changes": "Grid use"}
            )
            assert not approved.is_error, text_of(approved)
            with anyio.fail_after(30):
                while True:
                    status = await client.call_tool("research_status", {"interaction_id": iid})
                    if status.structured_content["status"] != "in_progress":
                        break
                    await anyio.sleep(0.1)
    finally:
        assert stop_process(second) == 0
    assert waiting.structured_content["status"] == "awaiting_approval" and waiting.structured_content["plan"]
    assert status.structured_content["status"] == "completed"
    run_id = approved.structured_content["run_interaction_id"]
    assert emulator.stats.requests_for(run_id).get("create") == 1
    runs = [b for b in emulator.emulator.received_bodies() if b.get("previous_interaction_id") == iid]
    assert len(runs) == 1 and runs[0]["input"].endswith("Grid use")
