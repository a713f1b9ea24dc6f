"""Collaborative planning as Google's Deep Research guide describes it, held to the SDK: a planning turn ends
``completed`` with the plan as its last step's text; a turn continuing it with planning on refines the plan; a
turn with planning off runs the research on the first brief, quoting the user's answers. Every request and
payload parses strictly with the SDK's own models."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from google import genai

from server.emulator import Emulator, EmulatorHandle
from tests.support import wire_check

from .helpers import report_text, wait_terminal

pytestmark = pytest.mark.anyio
AGENT = "deep-research-preview-04-2026"
PLANNING = {"type": "deep-research", "thinking_summaries": "auto", "collaborative_planning": True}
RUNNING = {**PLANNING, "collaborative_planning": False}


async def test_plan_refine_then_run_as_the_guide_describes(client: genai.Client, emu: Emulator) -> None:
    emu.config.plan_seconds = 0.05
    plan = await client.aio.interactions.create(
        agent=AGENT, input="Google TPUs [emulator:report_chars=900]", agent_config=PLANNING, background=True
    )
    assert plan.status == "in_progress"
    done = await wait_terminal(client, plan.id)
    assert done.status == "completed"  # the guide polls a planning turn until "completed"
    assert [s.type for s in done.steps] == ["user_input", "thought", "model_output"]
    first_plan = done.steps[-1].content[0].text
    assert first_plan.startswith("## Research plan: Google TPUs") and "approve the plan" in first_plan

    refined = await client.aio.interactions.create(
        agent=AGENT,
        input="Focus on competitors, less history.",
        agent_config=PLANNING,
        previous_interaction_id=plan.id,
        background=True,
    )
    refined_done = await wait_terminal(client, refined.id)
    second_plan = refined_done.steps[-1].content[0].text
    assert second_plan.startswith("## Research plan: Google TPUs")
    assert "- Focus on competitors, less history." in second_plan

    run = await client.aio.interactions.create(
        agent=AGENT,
        input="Plan looks good!",
        agent_config=RUNNING,
        previous_interaction_id=refined.id,
        background=True,
    )
    ran = await wait_terminal(client, run.id)
    report = report_text(ran)
    assert ran.status == "completed" and report.startswith("# Google TPUs: a research report")
    assert "> Focus on competitors, less history.\n> Plan looks good!" in report
    assert len(report) < 5000  # the brief's directives (report_chars) still apply to the run


async def test_leaving_planning_out_of_a_later_turn_runs_the_research(
    client: genai.Client, emu: Emulator
) -> None:
    emu.config.plan_seconds = 0.05
    plan = await client.aio.interactions.create(
        agent=AGENT, input="Heat pumps", agent_config=PLANNING, background=True
    )
    await wait_terminal(client, plan.id)
    run = await client.aio.interactions.create(
        agent=AGENT, input="Go ahead", previous_interaction_id=plan.id, background=True
    )
    ran = await wait_terminal(client, run.id)
    assert report_text(ran).startswith("# Heat pumps: a research report")


async def test_a_planning_turn_may_end_requires_action(client: genai.Client, emu: Emulator) -> None:
    plan = await client.aio.interactions.create(
        agent=AGENT,
        input="Geothermal [emulator:plan_status=requires_action][emulator:plan_seconds=0.05]",
        agent_config=PLANNING,
        background=True,
    )
    done = await wait_terminal(client, plan.id, statuses={"requires_action"})
    assert done.status == "requires_action" and "Research plan: Geothermal" in done.steps[-1].content[0].text
    run = await client.aio.interactions.create(
        agent=AGENT, input="Run it", agent_config=RUNNING, previous_interaction_id=plan.id, background=True
    )
    assert (await wait_terminal(client, run.id)).status == "completed"


async def test_plan_payloads_parse_with_the_sdks_models(
    emulator_server: EmulatorHandle, emu: Emulator
) -> None:
    emu.config.plan_seconds = 0.05
    emu.config.research_seconds = 0.1
    bodies = [
        {"agent": AGENT, "input": "Tidal power", "agent_config": PLANNING, "background": True},
        {"agent": AGENT, "input": "Plan looks good!", "agent_config": RUNNING, "background": True},
    ]
    payloads: list[tuple[str, Any]] = []
    async with httpx.AsyncClient(
        base_url=emulator_server.url, headers={"x-goog-api-key": "k"}, timeout=10
    ) as http:
        previous = None
        for body in bodies:
            if previous:
                body["previous_interaction_id"] = previous
            wire_check.request(body)  # what our gateway sends is a request the SDK's types define
            created = (await http.post("/v1/interactions", json=body)).json()
            payloads.append(("interaction", created))
            stream = await http.get(f"/v1/interactions/{created['id']}?stream=true")
            payloads += [("event", e) for e in wire_check.sse_events(stream.text)]
            payloads.append(("interaction", (await http.get(f"/v1/interactions/{created['id']}")).json()))
            previous = created["id"]
    for kind, payload in payloads:
        (wire_check.interaction if kind == "interaction" else wire_check.event)(payload)
    final = [p for k, p in payloads if k == "interaction"]
    assert final[1]["status"] == "completed" and final[1]["agent_config"]["collaborative_planning"] is True
    assert final[3]["previous_interaction_id"] == final[1]["id"]
