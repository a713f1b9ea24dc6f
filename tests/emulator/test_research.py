"""Deep Research agents: background jobs with thought summaries, a long cited report, cancel, stats."""

from __future__ import annotations

import time

import anyio
import pytest
from google import genai
from google.genai import _interactions

from server.emulator import Emulator

from .helpers import report_text, wait_terminal

pytestmark = pytest.mark.anyio
AGENT = "deep-research-preview-04-2026"
CONFIG = {"type": "deep-research", "thinking_summaries": "auto"}


async def test_research_job_completes_with_long_report(client: genai.Client, emu: Emulator) -> None:
    before = time.monotonic()
    created = await client.aio.interactions.create(
        agent=AGENT, input="Research the history of TPUs", background=True, agent_config=CONFIG
    )
    assert created.status == "in_progress" and created.steps == [] and created.agent == AGENT
    assert created.usage is None
    done = await wait_terminal(client, created.id)
    assert done.status == "completed"
    types = [s.type for s in done.steps]
    assert types[0] == "user_input" and types[-1] == "model_output"
    thoughts = [s for s in done.steps if s.type == "thought"]
    assert len(thoughts) == emu.config.research_steps
    assert all(t.summary and t.summary[0].text.startswith("**") for t in thoughts)
    assert (
        types.count("google_search_call") == types.count("google_search_result") == emu.config.research_steps
    )
    report = report_text(done)
    assert len(report) >= emu.config.report_chars
    assert report.startswith("# The history of TPUs: a research report")
    for marker in ("## Executive summary", "\n- ", "|---|---|---|", "```python", "## Sources"):
        assert marker in report
    annotations = [a for item in done.steps[-1].content for a in (item.annotations or [])]
    assert len(annotations) >= 10 and all(a.type == "url_citation" for a in annotations)
    text_item = done.steps[-1].content[0]
    first = text_item.annotations[0]
    assert text_item.text[first.end_index - 1] == "]"  # the span ends with its [n] marker
    assert done.usage.total_output_tokens > 2000 and done.usage.total_tool_use_tokens > 0
    record = emu.stats.completion(created.id)
    assert record is not None and record.status == "completed" and record.background
    assert before <= record.started_monotonic <= record.monotonic <= time.monotonic()
    assert record.duration >= emu.config.research_seconds * 0.9
    assert emu.stats.requests_for(created.id)["create"] == 1
    assert emu.stats.requests_for(created.id)["get"] >= 1


async def test_get_while_running_shows_steps_so_far(client: genai.Client, emu: Emulator) -> None:
    emu.config.research_seconds = 1.0
    emu.config.research_steps = 4
    created = await client.aio.interactions.create(agent=AGENT, input="slow topic", background=True)
    seen: list[int] = []
    with anyio.fail_after(10):
        while True:
            it = await client.aio.interactions.get(created.id)
            seen.append(len(it.steps))
            if it.status != "in_progress":
                break
            await anyio.sleep(0.1)
    assert seen[0] >= 1  # the user_input step at least
    assert any(1 < n < seen[-1] for n in seen), seen  # partial timelines were visible


async def test_visualization_adds_a_chart_between_text_items(client: genai.Client) -> None:
    created = await client.aio.interactions.create(
        agent=AGENT,
        input="Chart the GPU market",
        background=True,
        agent_config={**CONFIG, "visualization": "auto"},
    )
    done = await wait_terminal(client, created.id)
    kinds = [item.type for item in done.steps[-1].content]
    assert kinds == ["text", "image", "text"]
    assert done.output_image is not None and done.output_image.mime_type == "image/png"
    assert len(done.output_text) < len(report_text(done))  # output_text is only the tail


async def test_cancel_stops_a_running_job(client: genai.Client, emu: Emulator) -> None:
    emu.config.research_seconds = 5.0
    created = await client.aio.interactions.create(agent=AGENT, input="long research", background=True)
    await anyio.sleep(0.1)
    cancelled = await client.aio.interactions.cancel(created.id)
    assert cancelled.status == "cancelled"
    assert [c.interaction_id for c in emu.stats.cancels] == [created.id]
    assert emu.stats.cancels[0].status_before == "in_progress"
    await anyio.sleep(0.2)
    again = await client.aio.interactions.get(created.id)
    assert again.status == "cancelled"
    assert not any(s.type == "model_output" for s in again.steps)  # the job really stopped
    assert emu.stats.requests_for(created.id)["cancel"] == 1


async def test_prompt_directives_control_the_job(client: genai.Client, emu: Emulator) -> None:
    quick = await client.aio.interactions.create(
        agent=AGENT, input="[emulator:research_steps=1] [emulator:report_chars=1500] tiny", background=True
    )
    failing = await client.aio.interactions.create(
        agent=AGENT, input="[emulator:fail] doomed", background=True
    )
    stuck = await client.aio.interactions.create(
        agent=AGENT, input="[emulator:stuck] forever", background=True
    )
    done = await wait_terminal(client, quick.id)
    assert [s.type for s in done.steps].count("thought") == 1
    assert 1500 <= len(report_text(done)) < 6000
    failed = await wait_terminal(client, failing.id)
    assert failed.status == "failed" and "emulator:fail" in failed.errors[0].message
    await anyio.sleep(emu.config.research_seconds + 0.2)
    assert (await client.aio.interactions.get(stuck.id)).status == "in_progress"
    await client.aio.interactions.cancel(stuck.id)


async def test_html_directive_puts_hostile_html_in_the_report(client: genai.Client) -> None:
    plain = await client.aio.interactions.create(agent=AGENT, input="Research sanitisers", background=True)
    hostile = await client.aio.interactions.create(
        agent=AGENT, input="Research sanitisers [emulator:html]", background=True
    )
    assert "<" not in report_text(await wait_terminal(client, plain.id))
    report = report_text(await wait_terminal(client, hostile.id))
    assert '<img src="x" onerror="' in report and "<script>" in report and 'href="javascript:' in report


async def test_continue_from_a_finished_report(client: genai.Client) -> None:
    created = await client.aio.interactions.create(agent=AGENT, input="Research solar power", background=True)
    with pytest.raises(_interactions.BadRequestError):  # still running
        await client.aio.interactions.create(
            model="gemini-3.8-flash", input="x", previous_interaction_id=created.id
        )
    await wait_terminal(client, created.id)
    follow = await client.aio.interactions.create(
        model="gemini-3.8-flash", input="Summarise it", previous_interaction_id=created.id
    )
    assert "1 earlier turn; it began with: 'Research solar power'" in follow.output_text


async def test_in_process_inspection_from_the_test_thread(client: genai.Client, emu: Emulator) -> None:
    created = await client.aio.interactions.create(agent=AGENT, input="Research maps", background=True)
    assert emu.interaction_ids() == [created.id]
    snapshot = emu.interaction(created.id)
    assert snapshot is not None and snapshot["status"] == "in_progress"
    assert snapshot["steps"][0]["type"] == "user_input"
    await wait_terminal(client, created.id)
    assert emu.interaction(created.id)["status"] == "completed"
    assert emu.interaction("v1_unknown") is None
