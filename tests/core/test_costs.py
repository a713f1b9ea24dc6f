"""Billed calls through the core against the emulator: recorded with their owner and estimated cost, logged as
one JSON line each, and refused (never cancelled) by the operator's limits."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from server.core import Core, LimitReached, Origin, ResearchJob, UpstreamError, Usage
from server.core.logs import JsonFormatter
from server.emulator import Emulator
from tests.core.test_research import FAST, wait_terminal

pytestmark = pytest.mark.anyio

CoreFactory = Callable[..., AbstractAsyncContextManager[Core]]
ALICE = Origin(source="mcp", owner="token:alice")
SINCE, UNTIL = datetime.now(UTC) - timedelta(days=40), datetime.now(UTC) + timedelta(days=1)


def flash_cost(usage: Usage) -> Decimal:
    """Gemini 3.8 Flash by hand: $0.75 / M in, $3.75 / M out and thinking (until 2026-12-31), $1.50 / $7.50 after."""
    intro = datetime.now(UTC) < datetime(2027, 1, 1, tzinfo=UTC)
    rate_in, rate_out = (Decimal("0.75"), Decimal("3.75")) if intro else (Decimal("1.50"), Decimal("7.50"))
    total = usage.input_tokens * rate_in + (usage.output_tokens + usage.thought_tokens) * rate_out
    return (total / 1_000_000).quantize(Decimal("0.000001"))


@pytest.fixture
def billed_lines() -> Iterator[io.StringIO]:
    """The JSON lines the usage logger writes."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("server.core.usage")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


async def wait_for_plan(core: Core, job_id: str) -> ResearchJob:
    with anyio.fail_after(20):
        while (job := await core.research.get(job_id, viewer=ALICE)).status != "awaiting_approval":
            assert not job.terminal, job.error
            await anyio.sleep(0.05)
    return job


def billed(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line)["billed"] for line in out.getvalue().splitlines() if '"billed"' in line]


async def test_an_answer_is_recorded_with_its_owner_and_cost(
    core_for: CoreFactory, emu: Emulator, billed_lines: io.StringIO
) -> None:
    async with core_for() as core:
        answer = await core.ask("What is a TPU?", model="gemini-3.8-flash", caller=ALICE)
        follow = await core.ask(
            "And a GPU?",
            model="gemini-3.8-flash",
            previous_interaction_id=answer.interaction_id,
            caller=ALICE,
        )
        stored = await core.costs.of([answer.interaction_id, follow.interaction_id])
        people = await core.costs.totals("owner", since=SINCE, until=UNTIL)

    assert answer.usage is not None and answer.cost is not None
    assert answer.cost.usd == flash_cost(answer.usage) and answer.cost.usd > 0
    record = stored[answer.interaction_id]
    assert (record.kind, record.owner, record.source, record.model) == (
        "answer",
        "token:alice",
        "mcp",
        "gemini-3.8-flash",
    )
    assert record.usage == answer.usage and record.cost.usd == answer.cost.usd
    assert [(t.key, t.calls) for t in people] == [("token:alice", 2)]
    lines = billed(billed_lines)
    assert [line["interaction_id"] for line in lines] == [answer.interaction_id, follow.interaction_id]
    assert lines[0]["owner"] == "token:alice" and lines[0]["model"] == "gemini-3.8-flash"
    assert lines[0]["usage"]["input_tokens"] == answer.usage.input_tokens
    assert Decimal(str(lines[0]["estimated_cost_usd"])) == answer.cost.usd


async def test_a_model_without_a_price_is_recorded_as_unknown(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        answer = await core.ask("hello", model="gemini-3.7-flash", caller=ALICE)
        people = await core.costs.totals("owner", since=SINCE, until=UNTIL)
    assert answer.cost is not None and answer.cost.usd is None and "unknown" in answer.cost.basis
    assert people[0].unpriced_calls == 1 and people[0].cost_usd == 0


async def test_an_image_is_billed_with_its_image_tokens(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        result = await core.generate_image("a red kite", model="gemini-3.1-flash-image", caller=ALICE)
    usage = result.answer.usage
    assert usage is not None and result.answer.cost is not None
    images = usage.output_by_modality["image"]
    assert images > 0
    # $0.50 / M in, $3.00 / M text out and thinking, $60.00 / M image out.
    by_hand = (
        usage.input_tokens * Decimal("0.5")
        + (usage.output_tokens - images + usage.thought_tokens) * 3
        + images * 60
    ) / 1_000_000
    assert result.answer.cost.usd == by_hand.quantize(Decimal("0.000001"))


async def test_a_research_run_is_billed_once_when_it_ends(
    core_for: CoreFactory, emu: Emulator, billed_lines: io.StringIO
) -> None:
    async with core_for() as core:
        job = await core.research.start(f"TPUs {FAST}", origin=ALICE)
        running = await core.research.get(job.interaction_id, viewer=ALICE)
        done = await wait_terminal(core, job.interaction_id, viewer=ALICE)
        listed = await core.research.list(viewer=ALICE)

    assert running.cost is None and running.usage is None
    assert done.status == "completed" and done.usage is not None and done.cost is not None
    usage = done.usage
    # Gemini 3.1 Pro base rates ($2 / M in, tool-use prompts included; $12 / M out) and $14 per 1,000 searches.
    assert usage.tool_use_tokens and usage.grounding_tool_counts.get("google_search")
    tokens_in = usage.input_tokens + usage.tool_use_tokens
    by_hand = (tokens_in * 2 + (usage.output_tokens + usage.thought_tokens) * 12) / Decimal(
        1_000_000
    ) + Decimal(usage.grounding_tool_counts["google_search"]) * 14 / 1000
    assert done.cost.usd == by_hand.quantize(Decimal("0.000001")) and done.cost.usd > 0
    assert listed[0].cost == done.cost
    lines = [line for line in billed(billed_lines) if line["kind"] == "research"]
    assert len(lines) == 1 and lines[0]["model"] == done.agent and lines[0]["owner"] == "token:alice"


async def test_the_daily_research_limit_through_the_core(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for(research_per_day=1) as core:
        with pytest.raises(UpstreamError):  # an agent Gemini does not know: the start is not counted
            await core.research.start(f"nope {FAST}", agent="deep-research-nope", origin=ALICE)
        assert await core.research.refusal(ALICE) is None
        first = await core.research.start(f"first {FAST}", origin=ALICE)
        with pytest.raises(LimitReached) as caught:
            await core.research.start(f"second {FAST}", origin=ALICE)
        refusal = await core.research.refusal(ALICE)
        other = await core.research.start(f"bob's {FAST}", origin=Origin(source="mcp", owner="token:bob"))
        done = await wait_terminal(core, first.interaction_id, viewer=ALICE)
    assert "GEMINI_INTERACTIONS_RESEARCH_PER_DAY=1" in str(caught.value)
    assert refusal is not None and refusal.limit == "GEMINI_INTERACTIONS_RESEARCH_PER_DAY"
    assert other.status == "in_progress" and done.status == "completed"


async def test_a_spent_budget_refuses_new_calls_but_lets_a_running_run_finish(
    core_for: CoreFactory, emu: Emulator
) -> None:
    async with core_for(monthly_budget_usd="0.000001") as core:
        job = await core.research.start(f"long {FAST}", origin=ALICE)
        await core.ask(
            "spend it", model="gemini-3.8-flash", caller=ALICE
        )  # checked before: nothing spent yet
        for refused in (
            core.ask("one more", model="gemini-3.8-flash", caller=ALICE),
            core.generate_image("a kite", model="gemini-3.1-flash-image", caller=ALICE),
            core.research.start(f"another {FAST}", origin=ALICE),
        ):
            with pytest.raises(LimitReached) as caught:
                await refused
            assert caught.value.limit == "GEMINI_INTERACTIONS_MONTHLY_BUDGET_USD"
            assert "Runs already started keep going" in str(caught.value)
        done = await wait_terminal(core, job.interaction_id, viewer=ALICE)
    assert done.status == "completed" and done.cost is not None


async def test_a_broken_price_file_stops_the_core_at_start(core_for: CoreFactory, tmp_path: Any) -> None:
    bad = tmp_path / "prices.toml"
    bad.write_text("version = ")
    with pytest.raises(Exception, match="GEMINI_INTERACTIONS_PRICES_FILE"):
        async with core_for(prices_file=bad):
            pass


async def test_a_planned_run_bills_its_plan_and_its_run_and_approval_checks_the_budget(
    core_for: CoreFactory, emu: Emulator, billed_lines: io.StringIO, tmp_path: Path
) -> None:
    quick = "[emulator:research_seconds=0.3][emulator:plan_seconds=0.1]"
    async with core_for(research_per_day=1) as core:
        started = await core.research.start(f"Tidal power {quick}", origin=ALICE, plan_first=True)
        planned = await wait_for_plan(core, started.interaction_id)
        running = await core.research.approve(started.interaction_id, viewer=ALICE)  # not a second start
        done = await wait_terminal(core, started.interaction_id, viewer=ALICE)
        stored = await core.costs.of([started.interaction_id, running.run_id or ""], "research")

    plan, run = stored[started.interaction_id], stored[running.run_id or ""]
    assert planned.usage == plan.usage and planned.cost == plan.cost  # the plan is billed when it is ready
    assert done.status == "completed" and done.usage == plan.usage + run.usage
    assert plan.cost.usd is not None and run.cost.usd is not None
    assert done.cost is not None and done.cost.usd == plan.cost.usd + run.cost.usd
    assert [line["interaction_id"] for line in billed(billed_lines)] == [
        started.interaction_id,
        running.run_id,
    ]

    async with core_for(monthly_budget_usd="0.000001", data_dir=tmp_path / "fresh") as core:
        started = await core.research.start(f"Wave power {quick}", origin=ALICE, plan_first=True)
        await wait_for_plan(core, started.interaction_id)  # the plan spends the budget
        with pytest.raises(LimitReached, match="monthly budget"):
            await core.research.approve(started.interaction_id, viewer=ALICE)
        still = await core.research.get(started.interaction_id, viewer=ALICE)
    assert still.status == "awaiting_approval"  # refused, not cancelled: it can run next month
