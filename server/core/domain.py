"""Our own types: what the front doors see, independent of google-genai's classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

ResearchStatus = Literal[
    "in_progress", "completed", "failed", "cancelled", "incomplete", "budget_exceeded", "timed_out"
]
TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"completed", "failed", "cancelled", "incomplete", "budget_exceeded", "timed_out"}
)
# Upstream statuses a poller keeps waiting on (requires_action is a failure for us: we send no function tools).
WAITING_STATUSES: frozenset[str] = frozenset({"in_progress", "queued", "idle", "requires_continuation"})

ToolName = Literal["google_search", "url_context", "code_execution"]


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    thought_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Citation:
    url: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    data: bytes
    mime_type: str = "image/png"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A local file turned into an input part for Gemini."""

    name: str
    mime_type: str
    data: bytes
    kind: Literal["image", "document", "audio", "text"]


@dataclass(frozen=True, slots=True)
class Answer:
    """One interaction as we understand it: the text of every model_output step, in order."""

    interaction_id: str
    status: str
    model: str | None = None
    agent: str | None = None
    text: str = ""
    thoughts: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = ()
    images: tuple[GeneratedImage, ...] = ()
    usage: Usage | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StreamUpdate:
    """One event of a research stream, reduced to what the watcher needs.

    kind: ``progress`` (a thought summary or other human-readable step text), ``status`` (a status change),
    ``completed`` (interaction.completed: ``status`` holds the final status), ``error`` (in-band error event),
    ``other`` (anything else; still carries an event_id to resume from).
    """

    kind: Literal["progress", "status", "completed", "error", "other"]
    event_id: str | None = None
    text: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """Who started a job and where its report goes."""

    source: Literal["mcp", "slack"]
    owner: str | None = None  # MCP: the bearer token's owner (None on stdio); Slack: the user id
    team_id: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None  # Slack: the "research started" message we update with progress


@dataclass(slots=True)
class ResearchJob:
    interaction_id: str
    prompt: str
    agent: str
    origin: Origin
    status: str = "in_progress"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    last_event_id: str | None = None
    progress: str | None = None
    report_path: str | None = None
    error: str | None = None
    image_paths: list[str] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES
