"""The bot's own messages: research runs (started, progress, report summary), status lists, the Home tab, help.
Pure functions: no I/O, no Slack client; long markdown is cut by ``markdown.py``.

Limits (Slack's Block Kit reference): section text ≤ 3,000 characters, 50 blocks per message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from server.core import START_UNKNOWN, USAGE_HELP, ResearchJob, UsageTotal, elapsed_seconds, format_usd

from .markdown import SUMMARY_CHARS, TEXT_LIMIT, first_paragraphs, truncate
from .neutralise import neutralise
from .plan_view import plan_blocks

SECTION_LIMIT = 2_900  # a section block's text (Slack: 3,000)
PROGRESS_CHARS = 1_200

CANCEL_ACTION = "gemini_cancel_research"
SORRY = ":warning: Something went wrong on my side (it is in the bot's log). Please try again in a moment."
REPORT_EVENT_TYPE = "gemini_research_report"

STATUS_LABELS = {
    "in_progress": ":hourglass_flowing_sand: in progress",
    "awaiting_approval": ":clipboard: plan awaiting approval",
    "completed": ":white_check_mark: completed",
    "failed": ":x: failed",
    "cancelled": ":no_entry_sign: cancelled",
    "incomplete": ":warning: incomplete",
    "budget_exceeded": ":warning: budget exceeded",
    "timed_out": ":alarm_clock: timed out",
    START_UNKNOWN: ":grey_question: start unknown",
}

NEXT_STEPS = {
    "failed": "Try again with `/gemini research <topic>`, perhaps with a narrower topic.",
    "cancelled": "Start a new run with `/gemini research <topic>` whenever you like.",
    "incomplete": "The partial report (if any) is attached. Try again with a narrower topic.",
    "budget_exceeded": "The partial report (if any) is attached. Try again with a narrower topic.",
    "timed_out": "The run took too long and was cancelled. Try again with a narrower topic.",
    START_UNKNOWN: USAGE_HELP,
}

HELP_TEXT = """*Gemini in Slack*
• `/gemini <question>`: ask; the answer goes in a thread, and replies in that thread continue the conversation.
• `/gemini research <topic>`: start a Deep Research run (minutes); the report is posted in the thread. \
`/gemini research --plan <topic>` shows the agent's plan first: *Run it*, *Change…* or *Cancel* it.
• `/gemini image <prompt>`: draw an image and post it in a thread.
• `/gemini status [id]`: your recent research runs, or one run in detail.
• `/gemini cancel <id>`: cancel a research run you started.
• `/gemini usage`: what Gemini was used for this month here, and its estimated cost.
• `/gemini help`: this message.
Mention me (`@Gemini …`) in a channel, or write to me directly, to talk in a thread; attach images or PDFs \
and I will read them. Start a message with `research` to run Deep Research in that thread."""


RESEARCH_NOT_ALLOWED = (
    ":no_entry: Deep Research is open to certain people and channels only in this workspace "
    "(SLACK_RESEARCH_ALLOWED). Ask the person who runs this bot to add you, or start it from an allowed "
    "channel; this does not change on its own. Questions and images work as usual."
)
ESTIMATE_NOTE = "Costs are estimates from the bot's price table, not Google's bill."
USAGE_PEOPLE = 25


# --------------------------------------------------------------------------- research


def elapsed_label(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def topic_line(prompt: str, limit: int = 300) -> str:
    """A run's topic on one line, neutralised: people type ``<!here>`` too."""
    return neutralise(truncate(" ".join(prompt.split()), limit))


def research_pending_message(user_id: str, topic: str) -> dict[str, Any]:
    text = f":mag: <@{user_id}> started research: *{topic_line(topic)}*\nStarting…"
    return {"text": truncate(text, TEXT_LIMIT), "unfurl_links": False}


def research_message(job: ResearchJob) -> dict[str, Any]:
    """The 'research started' message, kept up to date with status and the latest progress.

    A planned run shows its plan with Run it / Change… / Cancel while the plan awaits approval.
    """
    user = job.origin.slack_user
    who = f"<@{user}> started research" if user else "Research"
    lines = [
        f":mag: {who}: *{topic_line(job.prompt)}*",
        f"{status_label(job.status)} · {elapsed_label(elapsed_seconds(job))} · ID `{job.interaction_id}`",
    ]
    if job.approved_at is not None:
        lines.append("_Plan approved with changes._" if job.changes else "_Plan approved as proposed._")
    if job.awaiting_approval:
        lines.append(
            "Here is the plan. *Run it* starts the research (minutes; it costs a few dollars), *Change…* edits "
            "the brief first, *Cancel* drops it."
        )
    elif job.terminal:
        lines.append(
            "The report is in the thread below." if job.status == "completed" else "Details in the thread."
        )
    elif job.progress:
        lines.append(f"_Latest:_ {neutralise(truncate(job.progress.strip(), PROGRESS_CHARS))}")
    elif job.planning:
        lines.append("Drafting a plan; you can review it here before the research runs.")
    else:
        lines.append("Working; this usually takes several minutes. The report will be posted in this thread.")
    body = truncate("\n".join(lines), SECTION_LIMIT)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]
    if job.awaiting_approval:
        blocks += plan_blocks(job)
    elif not job.terminal:
        blocks.append(
            {
                "type": "actions",
                "block_id": "research_actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": CANCEL_ACTION,
                        "text": {"type": "plain_text", "text": "Cancel"},
                        "style": "danger",
                        "value": job.interaction_id,
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Cancel this research run?"},
                            "text": {"type": "mrkdwn", "text": "The run stops and no report is posted."},
                            "confirm": {"type": "plain_text", "text": "Cancel it"},
                            "deny": {"type": "plain_text", "text": "Keep running"},
                        },
                    }
                ],
            }
        )
    return {"text": truncate(body, TEXT_LIMIT), "blocks": blocks, "unfurl_links": False}


def report_file_name(interaction_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", interaction_id)
    return f"gemini-research-{safe}.md"


def report_metadata(interaction_id: str, part: int) -> dict[str, Any]:
    return {
        "event_type": REPORT_EVENT_TYPE,
        "event_payload": {"interaction_id": interaction_id, "part": part},
    }


def report_summary(job: ResearchJob, report: str) -> str:
    """The short message that heads a finished run's thread replies (markdown, within one block)."""
    topic = topic_line(job.prompt, 200)
    took = elapsed_label(elapsed_seconds(job))
    if job.status == "completed":
        head = f"**Research finished** ({took}): {topic}"
    else:
        head = f"**Research {job.status.replace('_', ' ')}** after {took}: {topic}"
    lines = [head]
    if job.status != "completed":
        if job.error:
            lines.append(job.error)
        step = NEXT_STEPS.get(job.status)
        if step and step not in (job.error or ""):
            lines.append(step)
    if report.strip():
        excerpt = first_paragraphs(_without_title(report), SUMMARY_CHARS)
        lines.append(truncate(excerpt, SUMMARY_CHARS))
        lines.append(f"_The full report ({len(report):,} characters) is in the attached file._")
    elif job.status == "completed":
        lines.append("_Gemini finished without any report text._")
    if job.status == "completed":
        lines.append(f"_Interaction `{job.interaction_id}`: reply in this thread to ask about the report._")
    else:
        lines.append(f"_Interaction `{job.interaction_id}`._")
    return "\n\n".join(lines)


def _without_title(report: str) -> str:
    stripped = report.strip()
    if stripped.startswith("# "):
        _, _, rest = stripped.partition("\n")
        return rest.strip() or stripped
    return stripped


# --------------------------------------------------------------------------- status, home


def cost_label(job: ResearchJob) -> str:
    """`` · est. $0.42`` once a finished run's cost is known ('' otherwise)."""
    if job.cost is None:
        return ""
    return f" · est. {format_usd(job.cost.usd)}" if job.cost.usd is not None else " · cost unknown"


def slack_time(moment: datetime | None) -> str:
    """A time each reader sees in their own time zone (Slack's date formatting), UTC as the fallback."""
    if moment is None:
        return "at an unknown time"
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _when(job: ResearchJob) -> str:
    """How long a run took, or, for a start we know nothing more of, when it was begun."""
    if job.status == START_UNKNOWN:
        return f"begun {slack_time(job.created_at)}"
    return elapsed_label(elapsed_seconds(job))


def job_line(job: ResearchJob, link: str | None = None) -> str:
    where = f" · <{link}|thread>" if link else ""
    return (
        f"• *{topic_line(job.prompt, 120)}*: {status_label(job.status)}, "
        f"{_when(job)}{cost_label(job)}{where} · `{job.interaction_id}`"
    )


def status_list(jobs: list[ResearchJob], links: dict[str, str | None]) -> str:
    if not jobs:
        return "You have no research runs in this workspace yet. Start one with `/gemini research <topic>`."
    lines = ["*Your recent research runs*"] + [job_line(j, links.get(j.interaction_id)) for j in jobs]
    lines.append("Details of one run: `/gemini status <id>`.")
    return truncate("\n".join(lines), TEXT_LIMIT)


def status_detail(job: ResearchJob, link: str | None) -> str:
    lines = [job_line(job, link)]
    if job.progress and not job.terminal:
        lines.append(f"_Latest:_ {neutralise(truncate(job.progress.strip(), PROGRESS_CHARS))}")
    if job.error:
        lines.append(neutralise(job.error))
    if not job.terminal:
        lines.append(f"Cancel it with `/gemini cancel {job.interaction_id}`.")
    return truncate("\n".join(lines), TEXT_LIMIT)


def spend_line(total: UsageTotal | None, month: str) -> str:
    """``12 answers and images, 2 research runs: an estimated $1.23 in December 2026 (UTC).``"""
    if total is None or not total.calls:
        return f"Nothing yet in {month} (UTC)."
    others = total.calls - total.research_runs
    unpriced = f" ({total.unpriced_calls} of unknown price not counted)" if total.unpriced_calls else ""
    return (
        f"{others} answer{'s' if others != 1 else ''} and images, {total.research_runs} research "
        f"run{'s' if total.research_runs != 1 else ''}: an estimated {format_usd(total.cost_usd)} in {month} "
        f"(UTC){unpriced}."
    )


def home_view(
    jobs: list[ResearchJob],
    links: dict[str, str | None],
    spend: UsageTotal | None = None,
    month: str = "this month",
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Gemini"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(HELP_TEXT, SECTION_LIMIT)}},
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "Your use this month"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": spend_line(spend, month)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": ESTIMATE_NOTE}]},
        {"type": "header", "text": {"type": "plain_text", "text": "Your research runs"}},
    ]
    if not jobs:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "None yet. Start one with `/gemini research <topic>`."},
            }
        )
    for job in jobs[:20]:
        link = links.get(job.interaction_id)
        where = f" · <{link}|open thread>" if link else ""
        text = f"*{topic_line(job.prompt, 200)}*\n{status_label(job.status)} · {_when(job)}{cost_label(job)}{where}"
        if job.status == START_UNKNOWN and job.error:
            text += f"\n{job.error}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}})
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"ID `{job.interaction_id}`"}]}
        )
    return {"type": "home", "blocks": blocks}


def usage_report(
    month: str,
    people: list[UsageTotal],
    days: list[UsageTotal],
    *,
    you: UsageTotal | None,
    person: Callable[[str | None], str],
) -> str:
    """``/gemini usage``: this workspace's month, per person (most spent first) and per day."""
    lines = [f"*Gemini in this workspace, {month} (UTC)*", f"*You:* {spend_line(you, month)}"]
    if people:
        lines.append("*Per person*")
        for total in people[:USAGE_PEOPLE]:
            lines.append(f"• {person(total.key)}: {_total(total)}")
        if len(people) > USAGE_PEOPLE:
            lines.append(f"… and {len(people) - USAGE_PEOPLE} more.")
        lines.append("*Per day*")
        lines += [f"• {total.key}: {_total(total)}" for total in days]
    lines.append(f"_{ESTIMATE_NOTE}_")
    return truncate("\n".join(lines), TEXT_LIMIT)


def _total(total: UsageTotal) -> str:
    unpriced = f", {total.unpriced_calls} of unknown price" if total.unpriced_calls else ""
    return (
        f"{total.calls} call{'s' if total.calls != 1 else ''} ({total.research_runs} research), "
        f"{total.input_tokens:,} tokens in / {total.output_tokens:,} out, est. {format_usd(total.cost_usd)}"
        f"{unpriced}"
    )


def thread_link(workspace_url: str | None, channel_id: str | None, ts: str | None) -> str | None:
    """A web link to a message (``https://<workspace>.slack.com/archives/C…/p…``)."""
    if not (workspace_url and channel_id and ts):
        return None
    return f"{workspace_url.rstrip('/')}/archives/{channel_id}/p{ts.replace('.', '')}"
