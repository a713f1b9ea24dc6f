"""Usage and estimated cost in the MCP tools' results, and the operator's limits as tool errors, in memory."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from server.core import Settings
from server.emulator import EmulatorHandle
from server.mcp.app import build_server
from tests.mcp.test_mcp_plans import start_planned, wait_for
from tests.mcp.test_mcp_research import QUICK
from tests.support.env import make_settings
from tests.support.mcp import connect, start_research, text_of, wait_until_finished

pytestmark = pytest.mark.anyio


async def test_ask_and_continue_thread_show_usage_and_estimated_cost(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        first = await client.call_tool("ask", {"prompt": "What is a TPU?", "model": "gemini-3.8-flash"})
        follow = await client.call_tool(
            "continue_thread",
            {
                "interaction_id": first.structured_content["interaction_id"],
                "prompt": "And a GPU?",
                "model": "gemini-3.7-flash",
            },
        )
    assert not first.is_error and not follow.is_error
    usage, cost = first.structured_content["usage"], first.structured_content["cost"]
    # Gemini 3.8 Flash, $0.75 / M in and $3.75 / M out and thinking (its price until 2026-12-31).
    by_hand = (
        Decimal(usage["input_tokens"]) * Decimal("0.75")
        + Decimal(usage["output_tokens"] + usage["thought_tokens"]) * Decimal("3.75")
    ) / 1_000_000
    assert Decimal(str(cost["estimated_usd"])) == by_hand.quantize(Decimal("0.000001"))
    assert "estimate" in cost["basis"] and "price table" in cost["basis"]
    unknown = follow.structured_content["cost"]
    assert unknown["estimated_usd"] is None and unknown["basis"].startswith("unknown")


async def test_research_status_shows_usage_and_cost_once_finished(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        iid = await start_research(client, f"TPU market {QUICK}")
        running = await client.call_tool("research_status", {"interaction_id": iid})
        done = await wait_until_finished(client, iid)
        status = await client.call_tool("research_status", {"interaction_id": iid})
        listed = await client.call_tool("list_research", {})
    assert running.structured_content["cost"] is None and running.structured_content["usage"] is None
    assert done["status"] == "completed" and done["usage"]["input_tokens"] > 0
    assert done["cost"]["estimated_usd"] > 0 and "deep-research" in done["cost"]["basis"]
    assert "estimated cost $" in text_of(status) and "tokens in" in text_of(status)
    assert listed.structured_content["jobs"][0]["estimated_cost_usd"] == done["cost"]["estimated_usd"]


async def test_limits_refuse_a_start_with_which_and_when(
    emulator: EmulatorHandle, tmp_path: Path, clean_env: None
) -> None:
    settings: Settings = make_settings(tmp_path / "data", emulator.url, research_per_day=1)
    async with connect(build_server(settings)) as client:
        assert not (await client.call_tool("start_research", {"prompt": f"one {QUICK}"})).is_error
        refused = await client.call_tool("start_research", {"prompt": f"two {QUICK}"})
    assert refused.is_error
    text = text_of(refused)
    assert "GEMINI_INTERACTIONS_RESEARCH_PER_DAY=1" in text and "resets at" in text and "00:00 UTC" in text


async def test_a_spent_budget_refuses_answers_as_a_tool_error(
    emulator: EmulatorHandle, tmp_path: Path, clean_env: None
) -> None:
    settings = make_settings(tmp_path / "data", emulator.url, monthly_budget_usd="0.000001")
    async with connect(build_server(settings)) as client:
        assert not (await client.call_tool("ask", {"prompt": "hi", "model": "gemini-3.8-flash"})).is_error
        refused = await client.call_tool("ask", {"prompt": "again", "model": "gemini-3.8-flash"})
    assert refused.is_error and "monthly budget" in text_of(refused)
    assert "GEMINI_INTERACTIONS_MONTHLY_BUDGET_USD" in text_of(refused)


async def test_a_plan_is_billed_and_its_approval_is_not_another_start_but_meets_the_budget(
    emulator: EmulatorHandle, tmp_path: Path, clean_env: None
) -> None:
    per_day = make_settings(tmp_path / "one", emulator.url, research_per_day=1)
    async with connect(build_server(per_day)) as client:
        iid = await start_planned(client, "Tidal power")
        planned = await wait_for(client, iid, "awaiting_approval")
        approved = await client.call_tool("approve_research", {"interaction_id": iid})  # the day's one start
        done = await wait_until_finished(client, iid)
    assert planned["usage"]["input_tokens"] > 0 and planned["cost"]["estimated_usd"] > 0  # the planning turn
    assert not approved.is_error, text_of(approved)
    assert done["status"] == "completed" and done["cost"]["estimated_usd"] > planned["cost"]["estimated_usd"]

    spent = make_settings(tmp_path / "two", emulator.url, monthly_budget_usd="0.000001")
    async with connect(build_server(spent)) as client:
        iid = await start_planned(client, "Wave power")
        await wait_for(client, iid, "awaiting_approval")  # its planning turn spends the whole budget
        refused = await client.call_tool("approve_research", {"interaction_id": iid})
        after = await client.call_tool("research_status", {"interaction_id": iid})
    assert refused.is_error and "monthly budget" in text_of(refused) and "00:00 UTC" in text_of(refused)
    assert after.structured_content["status"] == "awaiting_approval"  # refused, not cancelled
