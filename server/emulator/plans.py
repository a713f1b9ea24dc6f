"""Collaborative planning: the Deep Research agent proposes a plan and stops; the user refines it or approves it.

As Google's Deep Research guide describes it (ai.google.dev/gemini-api/docs/deep-research, "Collaborative
planning"): with ``agent_config.collaborative_planning`` true the agent returns a research plan instead of a
report, and the interaction ends ``completed`` with the plan as the text of its last step. Each later turn is a
new interaction with ``previous_interaction_id``: with planning still on it refines the plan; with planning off
(or left out) its input ("Plan looks good!", or changes) approves the plan and the research runs. Writing
"go ahead" with planning still on only plans again.

The installed SDK also lists ``requires_action`` for an interaction waiting on the user;
``[emulator:plan_status=requires_action]`` ends a planning turn that way instead, so clients can be tested
against both readings.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from . import content

if TYPE_CHECKING:
    from .timeline import Interaction

PLAN_STATUSES = frozenset({"completed", "requires_action"})
_STEPS = (
    "Map the background: definitions, history and the main players in {topic}.",
    "Collect recent figures and reports about {topic} from primary sources.",
    "Compare the competing claims and note where the sources disagree.",
    "Read case studies that show {topic} in practice.",
    "List the open questions and risks, then write a cited report.",
)


def wants_plan(it: Interaction) -> bool:
    return it.req.agent_config.get("collaborative_planning") is True


def plan_text(brief: str, requests: list[str]) -> str:
    """The plan the agent proposes: deterministic for a brief and the user's requests so far."""
    topic = content.clean_prompt(brief)[:80] or "the requested topic"
    lines = [f"## Research plan: {topic}", "", "I will research this in five steps:", ""]
    lines += [f"{n}. {step.format(topic=topic)}" for n, step in enumerate(_STEPS, 1)]
    asked = [content.clean_prompt(r) for r in requests if content.clean_prompt(r)]
    if asked:
        lines += ["", "Revised for your requests:"]
        lines += [f"- {request[:300]}" for request in asked]
    lines += ["", "Tell me what to change, or approve the plan to start the research."]
    return "\n".join(lines)


async def propose(it: Interaction, *, plan_seconds: float) -> None:
    """A planning turn: a thought, then the plan as the model output; the run ends awaiting the user.

    ``plan_seconds``: how long drafting takes (``[emulator:plan_seconds=…]`` overrides it)."""
    seconds = _float(it.directives.get("plan_seconds"), plan_seconds)
    if seconds > 0:
        await asyncio.sleep(seconds)
    index = it.start_step({"type": "thought", "summary": []})
    summary = "**Drafting a research plan**\n\nI'm deciding which questions to answer and in what order."
    it.delta(index, {"type": "thought_summary", "content": {"type": "text", "text": summary}})
    it.stop_step(index)
    text = plan_text(it.brief, it.replies)
    index = it.start_step({"type": "model_output", "content": []})
    it.delta(index, {"type": "text", "text": text})
    it.stop_step(index)
    it.planned = True
    status = it.directives.get("plan_status") or "completed"
    it.final_status = status if status in PLAN_STATUSES else "completed"
    it.usage = content.usage(
        input_chars=len(it.brief) + sum(len(r) for r in it.replies),
        media=it.req.media,
        output_chars=len(text),
        thought_chars=len(summary),
    )


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default
