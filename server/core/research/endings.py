"""What a person is told about a research run that ended without its report: a start cut short or unanswered,
a planning turn without a plan, and each terminal status other than ``completed``."""

from __future__ import annotations

from .. import errors

CHECK_USAGE = errors.USAGE_HELP
CUT_SHORT = (
    "This research run's start was cut short (the server stopped, or its database failed) before Gemini's "
    "answer was recorded: Gemini may have started it, and billed it, under an id we never learnt. "
    + CHECK_USAGE
)
UNANSWERED = (
    "Gemini gave no readable answer when this research run was started (a timeout or a dropped connection): "
    "it may have started all the same, and been billed, under an id we never learnt. " + CHECK_USAGE
)

STATUS_HELP = {
    "failed": "Gemini reported that the research run failed. Try again, perhaps with a narrower topic.",
    "cancelled": "The research run was cancelled.",
    "incomplete": "The run stopped before finishing; the partial report (if any) is kept. Try a narrower topic.",
    "budget_exceeded": "The run hit its budget before finishing. Try a narrower topic.",
    "requires_action": "The research run stopped to wait for an action this server cannot take (a function "
    "result), so it was ended. Start a new run.",
}


NO_PLAN = "The research agent answered without a plan. Start again, or start without planning first."
