"""Plan first in Slack, as Slack shows it: the ``--plan`` / ``--now`` flags, the plan and its Run it / Change… /
Cancel buttons on the run's message, the modal that edits the brief, and what a click on a plan that is no
longer waiting says. Pure functions: no I/O.

Limits (Slack's Block Kit and views references): a ``markdown`` block's text counts toward 12,000 characters per
payload; a modal's title, submit and close are at most 24 characters; a plain-text input holds at most 3,000.
"""

from __future__ import annotations

import re
from typing import Any

from server.core import START_UNKNOWN, USAGE_HELP, NotAwaitingApproval, ResearchJob

from .markdown import truncate
from .neutralise import neutralise

RUN_ACTION = "gemini_plan_run"
CHANGE_ACTION = "gemini_plan_change"
CANCEL_ACTION = "gemini_plan_cancel"
CHANGE_VIEW = "gemini_plan_change_view"
BRIEF_BLOCK = "brief"
BRIEF_INPUT = "text"

PLAN_CHARS = 8_000  # of the plan shown on the message (the run's message text stays within chat.update's)
PREVIEW_CHARS = 2_900  # of the plan shown in the modal (one section)
INPUT_CHARS = 3_000

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_FLAG = re.compile(r"^\s*--(plan|now)\b\s*", re.IGNORECASE)


def plan_flag(topic: str, *, default: bool) -> tuple[bool, str]:
    """``"--plan TPUs"`` → ``(True, "TPUs")``; ``"--now TPUs"`` → ``(False, "TPUs")``; else the default."""
    match = _FLAG.match(topic)
    if match is None:
        return default, topic.strip()
    return match.group(1).lower() == "plan", topic[match.end() :].strip()


def plan_blocks(job: ResearchJob) -> list[dict[str, Any]]:
    """The proposed plan and the three buttons, for a job awaiting approval."""
    plan = (
        truncate(neutralise((job.plan or "").strip()), PLAN_CHARS) or "_(The agent proposed an empty plan.)_"
    )
    return [
        {"type": "markdown", "text": plan},
        {
            "type": "actions",
            "block_id": "plan_actions",
            "elements": [
                _button(RUN_ACTION, "Run it", job.interaction_id, style="primary"),
                _button(CHANGE_ACTION, "Change…", job.interaction_id),
                {
                    **_button(CANCEL_ACTION, "Cancel", job.interaction_id, style="danger"),
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Drop this plan?"},
                        "text": {"type": "mrkdwn", "text": "Nothing is researched and nothing is charged."},
                        "confirm": {"type": "plain_text", "text": "Drop it"},
                        "deny": {"type": "plain_text", "text": "Keep it"},
                    },
                },
            ],
        },
    ]


def _button(action_id: str, text: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def change_modal(job: ResearchJob) -> dict[str, Any]:
    """The modal that edits the brief; submitting it runs the research with the edited brief."""
    preview = _mrkdwn_within((job.plan or "").strip(), PREVIEW_CHARS)
    return {
        "type": "modal",
        "callback_id": CHANGE_VIEW,
        "private_metadata": job.interaction_id,
        "title": {"type": "plain_text", "text": "Change the research"},
        "submit": {"type": "plain_text", "text": "Run it"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Edit the brief, or add what the plan should change (for example _focus on Europe, "
                    "skip the history_). *Run it* starts the research with your changes.",
                },
            },
            {
                "type": "input",
                "block_id": BRIEF_BLOCK,
                "label": {"type": "plain_text", "text": "Brief and changes"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": BRIEF_INPUT,
                    "multiline": True,
                    "max_length": INPUT_CHARS,
                    "initial_value": truncate(job.prompt.strip(), INPUT_CHARS),
                },
            },
            {"type": "divider"},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*The proposed plan*\n{preview}"}},
        ],
    }


def _mrkdwn_within(text: str, limit: int) -> str:
    """``text`` escaped for mrkdwn and cut to ``limit`` characters, never inside an entity."""
    out: list[str] = []
    size = 0
    for char in text:
        piece = _ENTITIES.get(char, char)
        if size + len(piece) > limit - 1:
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def submitted_brief(view: dict[str, Any]) -> str:
    """The text of the modal's input, as Slack sends it in ``view.state.values``."""
    values = ((view.get("state") or {}).get("values") or {}).get(BRIEF_BLOCK) or {}
    return str((values.get(BRIEF_INPUT) or {}).get("value") or "").strip()


def changes_from(job: ResearchJob, brief: str) -> str | None:
    """The changes to send with the approval: the edited brief, or None when it was left as it was."""
    if " ".join(brief.split()) == " ".join(job.prompt.split()):
        return None
    return brief


def only_starter(job: ResearchJob, verb: str) -> str:
    who = f"<@{job.origin.slack_user}>" if job.origin.slack_user else "the person who started it"
    return f":no_entry: Only {who} can {verb} this plan."


def not_waiting_text(exc: NotAwaitingApproval) -> str:
    """What a click on a plan that no longer waits says."""
    if exc.status == "cancelled" and not exc.approved:
        return (
            "This plan was cancelled, so it cannot run. Start again with `/gemini research --plan <topic>`."
        )
    if exc.approved and exc.status == "in_progress":
        return "This plan already runs; the report will be posted in this thread."
    if exc.status == START_UNKNOWN:
        return f"Starting this plan's run was cut short, so whether it ran is unknown. {USAGE_HELP}"
    if exc.approved:
        return f"This plan already ran ({exc.status.replace('_', ' ')}); see the thread for its report."
    if exc.status == "in_progress":
        return "The plan is still being drafted; its buttons appear here when it is ready."
    return f"This research run already ended ({exc.status.replace('_', ' ')}); its plan can no longer run."
