"""Plan first, then run, through the core against the emulator: the plan awaits the user, approval runs it as
planned or with changes (they reach the run's input), cancel before running, two approvals at once run it once,
a restart between plan and approval, the job answering to either id, and a start cut short by a crash."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from server.core import Core, NotAwaitingApproval, ResearchNotFound
from server.core.domain import Origin, ResearchJob, disposition
from server.emulator import Emulator
from tests.core.test_research import wait_terminal

pytestmark = pytest.mark.anyio

MCP = Origin(source="mcp")
QUICK = "[emulator:research_seconds=0.3][emulator:plan_seconds=0.1]"
CoreFactory = Callable[..., AbstractAsyncContextManager[Core]]


async def wait_status(
    core: Core, job_id: str, status: str, *, viewer: Origin = MCP, seconds: float = 20.0
) -> ResearchJob:
    with anyio.fail_after(seconds):
        while True:
            job = await core.research.get(job_id, viewer=viewer)
            if job.status == status:
                return job
            assert not job.terminal, f"{job_id} ended {job.status} ({job.error}) instead of {status}"
            await anyio.sleep(0.05)


def runs_of(emu: Emulator, plan_id: str) -> list[dict[str, Any]]:
    """The create bodies that continued ``plan_id``: the runs (and refinements) started from its plan."""
    return [b for b in emu.received_bodies() if b.get("previous_interaction_id") == plan_id]


def test_a_plan_is_the_planning_turns_end_whichever_status_carries_it() -> None:
    assert disposition("completed", planning=True) == "plan"
    assert disposition("requires_action", planning=True) == "plan"
    assert disposition("completed") == "terminal" and disposition("requires_action") == "action"
    assert disposition("failed", planning=True) == "terminal"
    assert disposition("in_progress", planning=True) == "waiting"


async def test_approved_as_planned_runs_once_and_keeps_its_id(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        started = await core.research.start(f"Tidal power {QUICK}", origin=MCP, plan_first=True)
        assert started.status == "in_progress" and started.plan_first
        [first] = [b for b in emu.received_bodies() if b.get("agent")]
        assert first["agent_config"]["collaborative_planning"] is True

        planned = await wait_status(core, started.interaction_id, "awaiting_approval")
        assert planned.plan and "Research plan: Tidal power" in planned.plan
        assert planned.run_id is None and not planned.terminal
        await anyio.sleep(0.3)  # nobody watches a plan awaiting the user: no request goes upstream for it
        before = emu.stats.requests_for(started.interaction_id)
        await anyio.sleep(0.3)
        assert emu.stats.requests_for(started.interaction_id) == before

        running = await core.research.approve(started.interaction_id, viewer=MCP)
        assert running.status == "in_progress" and running.run_id and running.approved_at
        [run] = runs_of(emu, started.interaction_id)
        assert run["agent_config"]["collaborative_planning"] is False
        assert run["input"] == "Plan looks good! Run the research as planned."

        done = await wait_terminal(core, started.interaction_id)
        by_run = await core.research.get(running.run_id, viewer=MCP)
    assert done.status == "completed" and done.interaction_id == started.interaction_id
    assert done.run_id == running.run_id and by_run.interaction_id == started.interaction_id
    report = await anyio.Path(done.report_path or "").read_text()
    assert report.startswith("# Tidal power") and "## Sources" in report
    assert emu.stats.requests_for(running.run_id).get("create") == 1


async def test_a_second_approval_says_the_plan_already_runs(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        job = await core.research.start(f"Kelp farming {QUICK}", origin=MCP, plan_first=True)
        with pytest.raises(NotAwaitingApproval, match="still being drafted"):
            await core.research.approve(job.interaction_id, viewer=MCP)
        await wait_status(core, job.interaction_id, "awaiting_approval")
        await core.research.approve(job.interaction_id, viewer=MCP)
        with pytest.raises(NotAwaitingApproval, match="already runs its approved plan") as again:
            await core.research.approve(job.interaction_id, viewer=MCP)
        assert again.value.approved and again.value.status == "in_progress"
        await wait_terminal(core, job.interaction_id)
        with pytest.raises(NotAwaitingApproval, match=r"already ended \(completed\)"):
            await core.research.approve(job.interaction_id, viewer=MCP)


async def test_changes_reach_the_runs_input_and_its_report(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        job = await core.research.start(f"Heat pumps {QUICK}", origin=MCP, plan_first=True)
        await wait_status(core, job.interaction_id, "awaiting_approval")
        running = await core.research.approve(
            job.interaction_id, viewer=MCP, changes="  Focus on cold climates; skip the history.  "
        )
        done = await wait_terminal(core, job.interaction_id)
    assert running.changes == "Focus on cold climates; skip the history."
    [run] = runs_of(emu, job.interaction_id)
    assert run["input"].endswith("Focus on cold climates; skip the history.")
    assert run["input"].startswith("Run the research with these changes")
    report = await anyio.Path(done.report_path or "").read_text()
    assert "## Scope agreed with you" in report and "Focus on cold climates" in report


async def test_cancelled_before_running_never_runs(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        job = await core.research.start(f"Peat bogs {QUICK}", origin=MCP, plan_first=True)
        await wait_status(core, job.interaction_id, "awaiting_approval")
        with pytest.raises(ResearchNotFound):  # another caller's plan: not theirs to see, cancel or approve
            await core.research.cancel(job.interaction_id, viewer=Origin(source="mcp", owner="someone"))
        with pytest.raises(ResearchNotFound):
            await core.research.approve(job.interaction_id, viewer=Origin(source="mcp", owner="someone"))
        cancelled = await core.research.cancel(job.interaction_id, viewer=MCP)
        with pytest.raises(NotAwaitingApproval, match="was cancelled") as late:
            await core.research.approve(job.interaction_id, viewer=MCP)
    assert cancelled.status == "cancelled" and cancelled.run_id is None
    assert late.value.status == "cancelled"
    assert runs_of(emu, job.interaction_id) == []


async def test_cancel_while_the_plan_is_drafted_cancels_upstream(
    core_for: CoreFactory, emu: Emulator
) -> None:
    async with core_for() as core:
        job = await core.research.start("Salt marshes [emulator:plan_seconds=5]", origin=MCP, plan_first=True)
        cancelled = await core.research.cancel(job.interaction_id, viewer=MCP)
    assert cancelled.status == "cancelled"
    assert [c.interaction_id for c in emu.stats.cancels] == [job.interaction_id]


async def test_two_approvals_at_once_run_it_once(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        job = await core.research.start(f"Green steel {QUICK}", origin=MCP, plan_first=True)
        await wait_status(core, job.interaction_id, "awaiting_approval")
        outcomes: list[object] = []

        async def approve() -> None:
            try:
                outcomes.append(await core.research.approve(job.interaction_id, viewer=MCP))
            except NotAwaitingApproval as exc:
                outcomes.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(approve)
        done = await wait_terminal(core, job.interaction_id)
    assert sum(isinstance(o, ResearchJob) for o in outcomes) == 1
    assert sum(isinstance(o, NotAwaitingApproval) for o in outcomes) == 4
    assert len(runs_of(emu, job.interaction_id)) == 1 and done.status == "completed"


async def test_plan_and_approval_survive_a_restart(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        job = await core.research.start(f"Airships {QUICK}", origin=MCP, plan_first=True)
        planned = await wait_status(core, job.interaction_id, "awaiting_approval")
    async with core_for() as core:
        again = await core.research.get(job.interaction_id, viewer=MCP)
        assert again.status == "awaiting_approval" and again.plan == planned.plan
        await core.research.approve(job.interaction_id, viewer=MCP, changes="Cargo only")
    async with core_for() as core:  # a restart while the approved run goes on: it is watched to its end
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "completed" and done.changes == "Cargo only"
    assert len(runs_of(emu, job.interaction_id)) == 1


async def test_a_plan_that_ends_requires_action_awaits_the_user_too(
    core_for: CoreFactory, emu: Emulator
) -> None:
    async with core_for() as core:
        job = await core.research.start(
            f"Geothermal {QUICK}[emulator:plan_status=requires_action]", origin=MCP, plan_first=True
        )
        planned = await wait_status(core, job.interaction_id, "awaiting_approval")
        assert planned.plan and "Geothermal" in planned.plan
        await core.research.approve(job.interaction_id, viewer=MCP)
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "completed"


async def test_follow_ups_on_the_jobs_id_continue_from_its_run(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        job = await core.research.start(f"Wind lidar {QUICK}", origin=MCP, plan_first=True)
        await wait_status(core, job.interaction_id, "awaiting_approval")
        await core.research.approve(job.interaction_id, viewer=MCP)
        await wait_terminal(core, job.interaction_id)
        answer = await core.ask("Summarise it", previous_interaction_id=job.interaction_id, caller=MCP)
    # From the run: the brief and the approval are two earlier turns (from the plan alone it would be one).
    assert "This conversation has 2 earlier turns; it began with: 'Wind lidar" in answer.text


async def test_an_approval_cut_short_by_a_crash_is_reported_not_lost(
    core_for: CoreFactory, emu: Emulator
) -> None:
    async with core_for() as core:
        job = await core.research.start(f"Fusion {QUICK}", origin=MCP, plan_first=True)
        await wait_status(core, job.interaction_id, "awaiting_approval")
        # The approval was recorded, then the process died before Gemini's answer (the run id) was.
        assert await core.store.approve_job(job.interaction_id, "dead-replica", 30.0) is not None
    async with core_for() as core:
        lost = await wait_terminal(core, job.interaction_id)
    assert lost.status == "start_unknown" and lost.error and "cut short" in lost.error


async def test_a_refused_run_leaves_the_plan_waiting(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        job = await core.research.start(f"Tides {QUICK}", origin=MCP, plan_first=True)
        await wait_status(core, job.interaction_id, "awaiting_approval")
        emu.faults.error(400, kind="create")
        with pytest.raises(Exception, match="Gemini"):
            await core.research.approve(job.interaction_id, viewer=MCP)
        again = await core.research.get(job.interaction_id, viewer=MCP)
        assert again.status == "awaiting_approval" and again.approved_at is None
        await core.research.approve(job.interaction_id, viewer=MCP)
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "completed"


async def test_a_plan_is_recorded_once(core_for: CoreFactory) -> None:
    async with core_for() as core:
        job = ResearchJob(
            "v1_noplan",
            "x",
            "deep-research-preview-04-2026",
            MCP,
            created_at=datetime.now(UTC),
            plan_first=True,
        )
        await core.store.create_job(job)
        assert await core.store.plan_ready("v1_noplan", "A plan") is True
        assert await core.store.plan_ready("v1_noplan", "Another") is False
