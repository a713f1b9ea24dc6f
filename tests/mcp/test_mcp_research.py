"""Deep Research through MCP, in memory: start, page the report, the research:// resource and its update
notifications in both eras, cancel, list, unknown ids, failures, and continuing a thread from a finished job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import MCPError
from mcp.shared.exceptions import MCPDeprecationWarning

from tests.support.mcp import (
    ResourceUpdates,
    connect,
    start_research,
    text_of,
    updates_until_completed,
    wait_until_finished,
)

pytestmark = pytest.mark.anyio

QUICK = "[emulator:research_seconds=0.3]"
SLOW = "[emulator:research_seconds=1.5]"


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


async def test_research_runs_in_the_background_and_pages_its_report(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        started = await client.call_tool("start_research", {"prompt": f"TPU market {QUICK}"})
        assert not started.is_error, text_of(started)
        job = started.structured_content
        assert job["status"] == "in_progress"
        assert job["resource_uri"] == f"research://{job['interaction_id']}"
        assert "research_status" in job["hint"]
        iid = job["interaction_id"]

        running = await client.call_tool("research_status", {"interaction_id": iid})
        early = running.structured_content
        if early["status"] == "in_progress":
            assert early["report"] == "" and early["next_offset"] is None
            assert "Still running" in text_of(running)
            note = await client.read_resource(job["resource_uri"])
            assert "still running" in note.contents[0].text

        final = await wait_until_finished(client, iid)
        assert final["status"] == "completed" and final["error"] is None
        assert final["elapsed_seconds"] > 0

        pages: list[str] = []
        offset = 0
        for _ in range(20):
            page = await client.call_tool(
                "research_status", {"interaction_id": iid, "offset": offset, "max_chars": 5000}
            )
            data = page.structured_content
            assert data["offset"] == offset and len(data["report"]) <= 5000
            pages.append(data["report"])
            if data["next_offset"] is None:
                assert "complete" in text_of(page) or "End of the report" in text_of(page)
                break
            assert f"call again with offset {data['next_offset']}" in text_of(page)
            assert data["report"] in text_of(page)
            offset = data["next_offset"]
        report = "".join(pages)
        assert len(pages) >= 3 and len(report) == data["total_chars"]

        resource = await client.read_resource(job["resource_uri"])
        past_end = await client.call_tool(
            "research_status", {"interaction_id": iid, "offset": len(report) + 1}
        )
    (contents,) = resource.contents
    assert contents.mime_type == "text/markdown"
    assert contents.text == report
    assert report.startswith("# ") and "](https://" in report  # a markdown report with cited links
    assert await anyio.to_thread.run_sync(_read, data["report_path"]) == report
    assert past_end.is_error and "past the end of the report" in text_of(past_end)


async def test_modern_listeners_hear_when_a_job_finishes(server: Any) -> None:
    async with connect(server, "auto") as client:
        iid = await start_research(client, f"Quantum sensing {SLOW}")
        assert await updates_until_completed(client, iid, timeout=20) >= 1


async def test_legacy_subscribers_hear_when_a_job_finishes(server: Any) -> None:
    updates = ResourceUpdates()
    async with connect(server, "legacy", message_handler=updates) as client:
        assert client.server_capabilities.resources and client.server_capabilities.resources.subscribe
        iid = await start_research(client, f"Quantum sensing {SLOW}")
        uri = f"research://{iid}"
        with pytest.warns(MCPDeprecationWarning):
            await client.subscribe_resource(uri)
        final = await wait_until_finished(client, iid)
        with anyio.fail_after(10):
            await updates.arrived.wait()
        with pytest.warns(MCPDeprecationWarning):
            await client.unsubscribe_resource(uri)
    assert final["status"] == "completed"
    assert set(updates.heard) == {uri}


async def test_watching_an_unknown_job_is_refused_in_both_eras(server: Any) -> None:
    uri = "research://v1_not-a-job-of-yours"
    async with connect(server, "auto") as modern:
        with pytest.raises(MCPError, match="Cannot watch"):
            async with modern.listen(resource_subscriptions=[uri]):
                pass
    async with connect(server, "legacy") as legacy:
        with pytest.warns(MCPDeprecationWarning), pytest.raises(MCPError, match="Cannot watch"):
            await legacy.subscribe_resource(uri)
        with pytest.warns(MCPDeprecationWarning), pytest.raises(MCPError, match="Only research://"):
            await legacy.subscribe_resource("file:///etc/passwd")


async def test_cancel_and_list_research(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        done = await start_research(client, f"Finished topic {QUICK}")
        await wait_until_finished(client, done)
        older = await start_research(client, "Stuck topic one [emulator:stuck]")
        newer = await start_research(client, "Stuck topic two [emulator:stuck]")

        everything = await client.call_tool("list_research", {})
        cancelled = await client.call_tool("cancel_research", {"interaction_id": older})
        again = await client.call_tool("cancel_research", {"interaction_id": older})
        status = await client.call_tool("research_status", {"interaction_id": older})
        only_cancelled = await client.call_tool("list_research", {"status": "cancelled"})
        only_completed = await client.call_tool("list_research", {"status": "completed", "limit": 5})
        one = await client.call_tool("list_research", {"limit": 1})
        await client.call_tool("cancel_research", {"interaction_id": newer})

    ids = [job["interaction_id"] for job in everything.structured_content["jobs"]]
    assert ids == [newer, older, done]  # newest first
    assert cancelled.structured_content["status"] == "cancelled"
    assert not again.is_error and again.structured_content["status"] == "cancelled"
    assert status.structured_content["status"] == "cancelled"
    assert "ended with status cancelled" in text_of(status)
    assert [j["interaction_id"] for j in only_cancelled.structured_content["jobs"]] == [older]
    assert [j["interaction_id"] for j in only_completed.structured_content["jobs"]] == [done]
    assert [j["interaction_id"] for j in one.structured_content["jobs"]] == [newer]
    summary = everything.structured_content["jobs"][0]
    assert (
        summary["prompt"].startswith("Stuck topic two") and summary["resource_uri"] == f"research://{newer}"
    )


async def test_unknown_research_ids_are_readable_errors(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        status = await client.call_tool("research_status", {"interaction_id": "v1_unknown"})
        cancel = await client.call_tool("cancel_research", {"interaction_id": "v1_unknown"})
        with pytest.raises(MCPError, match="No research job v1_unknown"):
            await client.read_resource("research://v1_unknown")
    for result in (status, cancel):
        assert result.is_error
        assert "No research run 'v1_unknown'" in text_of(result) and "list_research" in text_of(result)


async def test_a_failed_job_reports_why(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        iid = await start_research(client, f"Doomed topic [emulator:fail] {QUICK}")
        final = await wait_until_finished(client, iid)
        note = await client.read_resource(f"research://{iid}")
    assert final["status"] == "failed"
    assert final["error"] and final["next_offset"] is None
    assert "ended with status failed" in final["hint"]
    assert "failed" in note.contents[0].text


async def test_continue_thread_from_a_finished_research_job(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        iid = await start_research(client, f"Solid-state batteries {QUICK}")
        await wait_until_finished(client, iid)
        follow_up = await client.call_tool(
            "continue_thread", {"interaction_id": iid, "prompt": "Summarise the report in one line"}
        )
    assert not follow_up.is_error, text_of(follow_up)
    text = follow_up.structured_content["text"]
    assert "1 earlier turn" in text and "Solid-state batteries" in text


async def test_competitive_intelligence_prompt_builds_a_research_request(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        prompt = await client.get_prompt("competitive_intelligence", {"company": "ACME Corp"})
    (message,) = prompt.messages
    text = message.content.text
    assert message.role == "user"
    for needle in ("ACME Corp", "start_research", "10-K", "earnings", "12 months", "SWOT", "markdown"):
        assert needle in text
