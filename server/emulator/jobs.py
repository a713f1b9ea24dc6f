"""The runs behind interactions: a text answer, an image, a Deep Research job. Each is one asyncio task.

A run writes only through the :class:`~.timeline.Interaction` step API, so the stored steps and the event
log stay in step. Cancelling the task (``cancel``) stops the run at its next ``await``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from . import content, hops, plans
from .images import image_dimensions, render_chart, render_image, seed_for
from .report import build_report
from .stats import CompletionRecord
from .timeline import Interaction

if TYPE_CHECKING:
    from .emulator import Emulator

log = logging.getLogger(__name__)


async def run(emu: Emulator, it: Interaction) -> None:
    """Run ``it`` to its end; never raises (a bug in a run shows up as status ``failed``)."""
    runner: Callable[[Emulator, Interaction], Awaitable[None]] = {
        "text": run_text,
        "image": run_image,
        "research": run_research,
    }[it.kind]
    try:
        await runner(emu, it)
        it.finish(it.final_status)
    except asyncio.CancelledError:
        it.finish("cancelled")
        raise
    except _JobFailed as err:
        it.finish("failed", error={"code": "FAILED_PRECONDITION", "message": str(err)})
    except Exception as err:  # a defect in the emulator: report it the way the service reports failures
        log.exception("emulator run for %s failed", it.id)
        it.finish("failed", error={"code": "INTERNAL", "message": f"Internal error: {err}"})
    finally:
        if not it.discarded:
            emu.stats.record_completion(
                CompletionRecord(
                    interaction_id=it.id,
                    status=it.status,
                    background=it.background,
                    kind=it.kind,
                    started_monotonic=it.created_monotonic,
                    monotonic=time.monotonic(),
                    wall_time=time.time(),
                )
            )
            emu.webhooks.interaction_ended(it)


async def run_text(emu: Emulator, it: Interaction) -> None:
    req = it.req
    if it.continuation is not None:
        await _sleep(it.continuation.delay)
        await _next_hop(emu, it, it.continuation)
        return
    delay = req.directive_float("text_delay", emu.config.text_delay_seconds)
    await _sleep(delay)
    if "stuck" in req.directives or (it.background and emu.faults.take_stuck()):
        await emu.wait_forever()
    answer = content.text_answer(req, emu.conversation_info(it))
    parts = hops.split(
        answer.text, answer.annotations, hops.hop_count(req, answer.text, emu.config.continuation_chars)
    )
    _thought(it, answer.thought)
    for step in answer.tool_steps:
        it.add_step(step)
    await _text_output(emu, it, parts[0])
    input_chars = _input_chars(it)
    if len(parts) > 1:
        emu.stop_for_continuation(
            it, hops.Continuation(it.id, parts[1:], input_chars, len(parts[0].text), delay)
        )
    it.usage = content.usage(
        input_chars=input_chars,
        media=req.media,
        output_chars=len(parts[0].text),
        thought_chars=len(answer.thought),
        tool_calls=len(answer.tool_steps) // 2,
        searches=sum(1 for step in answer.tool_steps if step["type"] == "google_search_call"),
    )


async def _next_hop(emu: Emulator, it: Interaction, pending: hops.Continuation) -> None:
    """The next part of an answer that stopped at the decode limit."""
    part, rest = pending.parts[0], pending.parts[1:]
    await _text_output(emu, it, part)
    if rest:
        emu.stop_for_continuation(
            it,
            hops.Continuation(
                it.id, rest, pending.input_chars, pending.emitted_chars + len(part.text), pending.delay
            ),
        )
    it.usage = content.usage(
        input_chars=pending.input_chars + pending.emitted_chars, media=[], output_chars=len(part.text)
    )


async def _text_output(emu: Emulator, it: Interaction, part: hops.Part) -> None:
    """The text in deltas; ``[emulator:write_seconds=5]`` spreads them evenly over 5 s (each hop's), as a
    model writes a long answer."""
    index = it.start_step({"type": "model_output", "content": []})
    chunk = max(1, emu.config.stream_chunk_chars)
    starts = range(0, len(part.text), chunk)
    pause = it.req.directive_float("write_seconds", 0.0) / max(1, len(starts))
    for number, start in enumerate(starts):
        if number:
            await _sleep(pause)
        it.delta(index, {"type": "text", "text": part.text[start : start + chunk]})
    if part.annotations:
        it.delta(index, {"type": "text_annotation_delta", "annotations": part.annotations})
    it.stop_step(index)


async def run_image(emu: Emulator, it: Interaction) -> None:
    req = it.req
    await _sleep(req.directive_float("image_delay", emu.config.image_delay_seconds))
    if "stuck" in req.directives or (it.background and emu.faults.take_stuck()):
        await emu.wait_forever()
    prompt = content.clean_prompt(req.prompt)
    index = it.start_step({"type": "model_output", "content": []})
    if "noimage" in req.prompt.lower():
        text = f'No image was generated for "{prompt}": the prompt asked for text only (noimage).'
        it.delta(index, {"type": "text", "text": text})
        it.stop_step(index)
        it.usage = content.usage(input_chars=_input_chars(it), media=req.media, output_chars=len(text))
        return
    previous = it.image_seed
    seed = previous.refined() if previous is not None else seed_for(prompt)
    it.image_seed = seed
    fmt = req.image_format
    size = image_dimensions(fmt.get("aspect_ratio"), fmt.get("image_size"))
    mime = "image/jpeg" if fmt.get("mime_type") == "image/jpeg" else "image/png"
    data = await asyncio.to_thread(render_image, seed, prompt, size, mime)
    if previous is not None:
        text = f'Refined the earlier image: "{prompt}" ({size[0]}x{size[1]}, {seed.mark} mark).'
    else:
        text = f'Here is an image of "{prompt}" ({size[0]}x{size[1]}).'
    it.delta(index, {"type": "text", "text": text})
    it.delta(index, emu.image_item(it, data, mime, fmt.get("delivery")))
    it.stop_step(index)
    it.usage = content.usage(
        input_chars=_input_chars(it), media=req.media, output_chars=len(text), output_images=1
    )


async def run_research(emu: Emulator, it: Interaction) -> None:
    if plans.wants_plan(it):
        await plans.propose(it, plan_seconds=emu.config.plan_seconds)
        return
    req, cfg, directives = it.req, emu.config, it.directives
    seconds = _directive_float(it, "research_seconds", cfg.research_seconds)
    steps = max(1, int(_directive_float(it, "research_steps", cfg.research_steps)))
    chars = max(500, int(_directive_float(it, "report_chars", cfg.report_chars)))
    stuck = "stuck" in directives or emu.faults.take_stuck()
    summaries = req.agent_config.get("thinking_summaries") != "none"
    topic = content.clean_prompt(it.brief)[:80] or "the requested topic"
    pause = seconds / (steps + 1)
    thought_chars = 0
    if "start_status" in directives:  # e.g. queued: the run waits for capacity before it starts
        it.set_status(directives["start_status"] or "queued")
        await _sleep(pause)
        it.set_status("in_progress")
    for number, (summary, query) in enumerate(content.research_thoughts(topic, steps)):
        await _sleep(pause)
        _thought(it, summary if summaries else "")
        thought_chars += len(summary)
        call_id = f"search_{number + 1}"
        it.add_step(
            {
                "type": "google_search_call",
                "id": call_id,
                "arguments": {"queries": [query]},
                "search_type": "web_search",
            }
        )
        it.add_step(
            {
                "type": "google_search_result",
                "call_id": call_id,
                "result": [{"search_suggestions": f'<div class="emulator-search">{query}</div>'}],
            }
        )
        if stuck and "status" not in directives:
            await emu.wait_forever()
        if number == 0 and "fail" in directives:
            raise _JobFailed("The research agent could not complete this task (emulator:fail).")
        if number == 0 and "requires_action" in directives:  # waits for a result or answer from us
            it.final_status = "requires_action"
            return
        if number == 0 and "status" in directives:  # another status for a while (idle, or a future one)
            it.set_status(directives["status"] or "idle")
            if stuck:
                await emu.wait_forever()
            await _sleep(pause)
            it.set_status("in_progress")
    await _sleep(pause)
    visual = req.agent_config.get("visualization")
    with_chart = (
        visual == "auto"
        or (visual is None and cfg.research_visualization)
        or "chart" in directives
        or "chart_uri" in directives
    )
    report = build_report(
        it.brief, chars, split_for_image=with_chart, raw_html="html" in directives, scope=it.replies
    )
    index = it.start_step({"type": "model_output", "content": []})
    chunk = max(1, cfg.report_chunk_chars)
    images = 0
    for number, part in enumerate(report.parts):
        if number == 1 and with_chart:
            rng = random.Random(hashlib.sha256(topic.encode()).digest())
            chart = await asyncio.to_thread(
                render_chart, f"Figure 1: {topic}", [rng.uniform(1, 10) for _ in range(6)]
            )
            chart_uri = "chart_uri" in directives
            it.delta(
                index,
                emu.image_item(
                    it, chart, "image/png", "uri" if chart_uri else None, host=directives.get("chart_uri")
                ),
            )
            images += 1
        for start in range(0, len(part.text), chunk):
            it.delta(index, {"type": "text", "text": part.text[start : start + chunk]})
        if part.annotations:
            it.delta(index, {"type": "text_annotation_delta", "annotations": part.annotations})
    it.stop_step(index)
    it.usage = content.usage(
        input_chars=_input_chars(it) + 40000,  # the pages the agent read
        media=req.media,
        output_chars=len(report.text),
        output_images=images,
        thought_chars=thought_chars,
        tool_calls=steps,
        searches=steps,
    )


class _JobFailed(Exception):
    pass


def _thought(it: Interaction, summary: str) -> None:
    index = it.start_step({"type": "thought", "summary": []})
    if summary:
        it.delta(index, {"type": "thought_summary", "content": {"type": "text", "text": summary}})
    signature = base64.b64encode(hashlib.sha256(f"{it.id}:{index}".encode()).digest()).decode()
    it.delta(index, {"type": "thought_signature", "signature": signature})
    it.stop_step(index)


def _input_chars(it: Interaction) -> int:
    total = len(it.req.prompt) + len(it.req.system_instruction or "")
    for step in it.history:
        total += sum(len(c.get("text", "")) for c in step.get("content", []) if c.get("type") == "text")
    return total


def _directive_float(it: Interaction, name: str, default: float) -> float:
    try:
        return float(it.directives[name])
    except (KeyError, ValueError):
        return default


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
