"""``kill -9`` at each named point of ``start_research`` (a test hook exits there: no timing): the run is never
silently untracked. After the restart its owner sees it in ``list_research`` as ``start_unknown`` with the
prompt, the time and what to check; a run Gemini did create has its id in the log, for the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from server.core import START_UNKNOWN
from server.core.research.crash_points import CRASH_EXIT_CODE, CRASH_POINTS
from server.emulator import EmulatorHandle
from tests.support.env import TEST_KEY, host_env
from tests.support.mcp import http_client, text_of
from tests.support.processes import mcp_http_process

pytestmark = pytest.mark.anyio

TOKEN = "alice-secret-token-0123456789"
PROMPT = "Tidal power in the Bristol Channel [emulator:research_seconds=1]"


@pytest.mark.parametrize("point", CRASH_POINTS)
async def test_a_start_killed_at_each_point_shows_to_its_owner(
    emulator: EmulatorHandle, tmp_path: Path, point: str
) -> None:
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
        GEMINI_INTERACTIONS_MCP_TOKEN=TOKEN,
    )
    crashing = env | {"GEMINI_INTERACTIONS_TEST_HOOKS": "1", "GEMINI_INTERACTIONS_TEST_CRASH_AT": point}
    creates = emulator.stats.by_kind["create"]
    with mcp_http_process(crashing, tmp_path / "first.log") as first:
        # The server dies mid-call: the client's transport fails (an ExceptionGroup of its task group).
        with anyio.fail_after(60), pytest.raises(Exception):  # noqa: B017
            async with http_client(first.url, TOKEN) as client:
                await client.call_tool("start_research", {"prompt": PROMPT})
        assert first.process.wait(15) == CRASH_EXIT_CODE, first.output()
        first_log = first.output()
    assert emulator.stats.by_kind["create"] == creates + (point != "before_create")
    # Once Gemini returned the run, its id was logged before any database write.
    assert ("Gemini started run v1_" in first_log) == (point == "before_record"), first_log

    with mcp_http_process(env, tmp_path / "second.log") as second:
        async with http_client(second.url, TOKEN) as client:
            listed = await client.call_tool("list_research", {})
            assert not listed.is_error, text_of(listed)
            [job] = (listed.structured_content or {})["jobs"]
            status = await client.call_tool("research_status", {"interaction_id": job["interaction_id"]})
    assert (job["status"], job["prompt"]) == (START_UNKNOWN, PROMPT), job
    assert job["interaction_id"].startswith("start-") and job["created_at"], job
    assert "aistudio.google.com/usage" in job["error"], job
    result: dict[str, Any] = status.structured_content or {}
    assert result["status"] == START_UNKNOWN and "before starting it again" in result["hint"], result


async def _until_status(client: Any, interaction_id: str, status: str) -> None:
    with anyio.fail_after(60):
        while True:
            got = await client.call_tool("research_status", {"interaction_id": interaction_id})
            if (got.structured_content or {}).get("status") == status:
                return
            await anyio.sleep(0.1)


@pytest.mark.parametrize("point", CRASH_POINTS)
async def test_an_approval_killed_at_each_point_shows_to_its_owner(
    emulator: EmulatorHandle, tmp_path: Path, point: str
) -> None:
    """The approved run of a plan-first job is a second paid create: the same points, the same outcome."""
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
        GEMINI_INTERACTIONS_MCP_TOKEN=TOKEN,
    )
    prompt = f"{PROMPT}[emulator:plan_seconds=0.1]"
    with mcp_http_process(env, tmp_path / "plan.log") as planning:
        async with http_client(planning.url, TOKEN) as client:
            started = await client.call_tool("start_research", {"prompt": prompt, "plan_first": True})
            plan_id = (started.structured_content or {})["interaction_id"]
            await _until_status(client, plan_id, "awaiting_approval")

    crashing = env | {"GEMINI_INTERACTIONS_TEST_HOOKS": "1", "GEMINI_INTERACTIONS_TEST_CRASH_AT": point}
    creates = emulator.stats.by_kind["create"]
    with mcp_http_process(crashing, tmp_path / "approve.log") as approving:
        with anyio.fail_after(60), pytest.raises(Exception):  # noqa: B017
            async with http_client(approving.url, TOKEN) as client:
                await client.call_tool("approve_research", {"interaction_id": plan_id})
        assert approving.process.wait(15) == CRASH_EXIT_CODE, approving.output()
        approve_log = approving.output()
    assert emulator.stats.by_kind["create"] == creates + (point != "before_create")
    assert ("Gemini started run v1_" in approve_log) == (point == "before_record"), approve_log

    with mcp_http_process(env, tmp_path / "after.log") as after:
        async with http_client(after.url, TOKEN) as client:
            await _until_status(client, plan_id, START_UNKNOWN)
            listed = await client.call_tool("list_research", {})
            again = await client.call_tool("approve_research", {"interaction_id": plan_id})
    [job] = (listed.structured_content or {})["jobs"]
    assert (job["interaction_id"], job["status"], job["prompt"]) == (plan_id, START_UNKNOWN, prompt), job
    assert job["created_at"] and "aistudio.google.com/usage" in job["error"], job
    # Never approved twice into a second paid run: the plan can no longer run.
    assert again.is_error and emulator.stats.by_kind["create"] == creates + (point != "before_create")
