"""The model and agent ids we default to, the ids Google has retired, and the thinking levels.

The defaults are checked by a test against the installed google-genai's ``Model`` / ``AgentOption`` lists and
against :data:`RETIRED`, so an SDK upgrade or a Google announcement flags a default before users hit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

DEFAULT_MODEL = "gemini-flash-latest"  # an alias: it follows Google's current Flash model and never retires
DEFAULT_IMAGE_MODEL = "gemini-3.1-flash-image"
DEFAULT_RESEARCH_AGENT = "deep-research-preview-04-2026"
THOROUGH_RESEARCH_AGENT = "deep-research-max-preview-04-2026"

# The SDK's ThinkingLevel (google/genai/_gaos/types/interactions/thinkinglevel.py), shallowest first.
ThinkingLevel = Literal["minimal", "low", "medium", "high", "xhigh"]
THINKING_LEVELS: tuple[str, ...] = get_args(ThinkingLevel)


@dataclass(frozen=True, slots=True)
class Retired:
    """An id Google deprecated or shut down: what replaces it, and where Google said so."""

    id: str
    replacement: str
    what: str
    source: str


RETIRED: tuple[Retired, ...] = (
    Retired(
        "gemini-3.5-flash",
        "gemini-3.6-flash",
        "deprecated; calls are routed to gemini-3.6-flash",
        "https://ai.google.dev/gemini-api/docs/models/gemini-3.5-flash "
        '("Deprecated: gemini-3.5-flash (automatically routed to gemini-3.6-flash)")',
    ),
    Retired(
        "deep-research-pro-preview-12-2025",
        DEFAULT_RESEARCH_AGENT,
        "shut down on 2026-10-23",
        "https://ai.google.dev/gemini-api/docs/changelog (2026-10-08 entry) and "
        "https://ai.google.dev/gemini-api/docs/deprecations",
    ),
)
RETIRED_IDS: frozenset[str] = frozenset(r.id for r in RETIRED)


def retired(model_or_agent: str) -> Retired | None:
    return next((r for r in RETIRED if r.id == model_or_agent), None)
