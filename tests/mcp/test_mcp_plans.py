"""Plan first through MCP, in memory: start_research(plan_first) shows the plan in research_status and the
resource, approve_research runs it as planned or with changes, cancel_research drops it, a second or concurrent
approval runs nothing more, another caller's plan is not theirs, and the job answers to either id (status,
resource, subscriptions, continue_thread)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from mcp import Client

from server.core import Core
from server.core.domain import Origin, ResearchJob
from server.emulator import EmulatorHandle
from server.mcp.app import build_server
from tests.support.mcp import connect, text_of

pytestmark = pytest.mark.anyio

QUICK = "[emulator:research_seconds=0.4][emulator:plan_seconds=0.1]"


async def status_of(client: Client, interaction_id: str) -> dict[str, Any]:
    result = await client.call_tool("research_status", {"interaction_id": interaction_id})
    assert not result.is_error, text_of(result)
    return dict(result.structured_content)


async def wait_for(client: Client, interaction_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
    with anyio.fail_after(timeout):
        while (data := await status_of(client, interaction_id))["status"] != status:
            assert data["status"] in ("in_progress", "awaiting_approval"), data
            await anyio.sleep(0.05)
    return data


async def start_planned(client: Client, topic: str) -> str:
    started = await client.call_tool("start_research", {"prompt": f"{topic} {QUICK}", "plan_first": True})
    assert not started.is_error, text_of(started)
    assert "awaiting_approval" in started.structured_content["hint"]
    return str(started.structured_content["interaction_id"])


def runs_of(emulator: EmulatorHandle, plan_id: str) -> list[dict[str, Any]]:
    return [b for b in emulator.emulator.received_bodies() if b.get("previous_interaction_id") == plan_id]


async def test_a_plan_is_shown_then_run_as_planned(server: Any, mode: str, emulator: EmulatorHandle) -> None:
    async with connect(server, mode) as client:
        iid = await start_planned(client, "Offshore wind")
        planned = await wait_for(client, iid, "awaiting_approval")
        assert "Research plan: Offshore wind" in planned["plan"]
        assert (
            planned["report"] == planned["plan"] and planned["next_offset"] is None
        )  # the document to review
        text = text_of(await client.call_tool("research_status", {"interaction_id": iid}))
        assert "Proposed plan:" in text and "approve_research" in text
        note = (await client.read_resource(f"research://{iid}")).contents[0].text
        assert note == planned["plan"]  # what the MCP App view shows as the plan
        listed = await client.call_tool("list_research", {"status": "awaiting_approval"})
        assert [j["interaction_id"] for j in listed.structured_content["jobs"]] == [iid]

        approved = await client.call_tool("approve_research", {"interaction_id": iid})
        assert not approved.is_error, text_of(approved)
        run_id = approved.structured_content["run_interaction_id"]
        assert approved.structured_content["interaction_id"] == iid and run_id and run_id != iid
        assert "as planned" in approved.structured_content["hint"]

        done = await wait_for(client, iid, "completed")
        by_run = await status_of(client, run_id)
        report = (await client.read_resource(f"research://{run_id}")).contents[0].text
        again = await client.call_tool("approve_research", {"interaction_id": iid})
    assert done["run_interaction_id"] == run_id and by_run["interaction_id"] == iid
    assert report.startswith("# Offshore wind") and len(report) == done["total_chars"]
    assert again.is_error and "already ended (completed)" in text_of(again)
    [run] = runs_of(emulator, iid)
    assert run["input"] == "Plan looks good! Run the research as planned."


async def test_changes_reach_the_run_and_continue_thread_follows_the_run(
    server: Any, emulator: EmulatorHandle
) -> None:
    async with connect(server) as client:
        iid = await start_planned(client, "Battery recycling")
        await wait_for(client, iid, "awaiting_approval")
        approved = await client.call_tool(
            "approve_research", {"interaction_id": iid, "changes": "Only Europe, and add costs per tonne."}
        )
        assert "with your changes" in approved.structured_content["hint"]
        await wait_for(client, iid, "completed")
        report = (await client.read_resource(f"research://{iid}")).contents[0].text
        follow = await client.call_tool(
            "continue_thread", {"interaction_id": iid, "prompt": "What did you skip?"}
        )
    [run] = runs_of(emulator, iid)
    assert run["input"].endswith("Only Europe, and add costs per tonne.")
    assert "Only Europe, and add costs per tonne." in report
    assert not follow.is_error, text_of(follow)
    # From the run (brief, then the approval): two earlier turns; from the plan alone there would be one.
    assert "2 earlier turns" in follow.structured_content["text"]


async def test_cancelled_before_running_and_approvals_after_say_so(
    server: Any, emulator: EmulatorHandle
) -> None:
    async with connect(server) as client:
        iid = await start_planned(client, "Lunar regolith")
        early = await client.call_tool("approve_research", {"interaction_id": iid})
        await wait_for(client, iid, "awaiting_approval")
        cancelled = await client.call_tool("cancel_research", {"interaction_id": iid})
        late = await client.call_tool("approve_research", {"interaction_id": iid})
        final = await status_of(client, iid)
    assert early.is_error and "still being drafted" in text_of(early)
    assert cancelled.structured_content["status"] == "cancelled"
    assert late.is_error and "was cancelled" in text_of(late)
    assert final["status"] == "cancelled" and final["run_interaction_id"] is None
    assert runs_of(emulator, iid) == []


async def test_two_approvals_at_once_run_it_once(server: Any, emulator: EmulatorHandle) -> None:
    async with connect(server) as client:
        iid = await start_planned(client, "Vertical farming")
        await wait_for(client, iid, "awaiting_approval")
        results: list[Any] = []

        async def approve() -> None:
            results.append(await client.call_tool("approve_research", {"interaction_id": iid}))

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(approve)
        await wait_for(client, iid, "completed")
    assert sorted(r.is_error for r in results) == [False, True, True]
    assert all("already runs its approved plan" in text_of(r) for r in results if r.is_error)
    assert len(runs_of(emulator, iid)) == 1


async def test_someone_elses_plan_is_not_theirs_to_approve(settings: Any) -> None:
    cores: list[Core] = []

    @asynccontextmanager
    async def keep_core(settings_: Any) -> AsyncIterator[Core]:
        async with Core.running(settings_) as core:
            cores.append(core)
            yield core

    server = build_server(settings, core_factory=keep_core)
    async with connect(server) as client:
        await client.call_tool("list_research", {})  # the store is open
        store = cores[0].store
        theirs = ResearchJob(
            "v1_someone_elses_plan",
            "their topic",
            "deep-research-preview-04-2026",
            Origin(source="mcp", owner="token:someone-else"),
            status="awaiting_approval",
            created_at=datetime.now(UTC),
            plan_first=True,
            plan="Their plan",
        )
        await store.create_job(theirs)
        approve = await client.call_tool("approve_research", {"interaction_id": theirs.interaction_id})
        cancel = await client.call_tool("cancel_research", {"interaction_id": theirs.interaction_id})
        listed = await client.call_tool("list_research", {})
        after = await store.get_job(theirs.interaction_id)
    assert approve.is_error and "No research run" in text_of(approve)
    assert cancel.is_error and "No research run" in text_of(cancel)
    assert theirs.interaction_id not in str(listed.structured_content)
    assert after is not None and after.status == "awaiting_approval" and after.approved_at is None
