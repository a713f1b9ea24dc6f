"""Our own types: what the front doors see, independent of google-genai's classes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

ResearchStatus = Literal[
    "in_progress",
    "completed",
    "failed",
    "cancelled",
    "incomplete",
    "budget_exceeded",
    "timed_out",
    "awaiting_approval",
    "start_unknown",
]
# Ours, never Gemini's: a start cut short (a crash, a database that failed) before Gemini's answer was recorded.
# The run may exist upstream, and be billed, under an id we never learnt; the job's id is the start's own key.
START_UNKNOWN = "start_unknown"
TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"completed", "failed", "cancelled", "incomplete", "budget_exceeded", "timed_out", START_UNKNOWN}
)
# A planned job whose plan waits for the user (approve or cancel it); nobody watches it meanwhile.
AWAITING_APPROVAL = "awaiting_approval"
# Upstream statuses a research watcher keeps waiting on (within its deadline).
WAITING_STATUSES: frozenset[str] = frozenset({"in_progress", "queued", "idle", "requires_continuation"})
# The interaction waits for something from us: a function result (we offer no function tools) or, with
# collaborative planning, the user's answer to a plan.
ACTION_STATUSES: frozenset[str] = frozenset({"requires_action"})
# How a planning turn (collaborative planning) ends with its plan: Google's Deep Research guide polls it until
# ``completed`` and reads the plan from the last step; the SDK also lists ``requires_action`` for an interaction
# waiting on the user. Either one means: the plan is ready.
PLAN_READY_STATUSES: frozenset[str] = frozenset({"completed", "requires_action"})

Disposition = Literal["terminal", "waiting", "action", "plan", "unknown"]


def disposition(status: str, *, planning: bool = False) -> Disposition:
    """What a research watcher does with an upstream status: the one place that decides it.

    ``terminal``: finalize the job. ``waiting``: keep waiting. ``plan``: a planning turn (``planning``: the job
    asked for a plan first and has not run yet) ended with its plan: the job awaits the user's approval.
    ``action``: the run waits for something we cannot give (a function result); we end it with a clear
    message. ``unknown``: a status newer than this code: log it and keep waiting until the deadline.
    """
    if planning and status in PLAN_READY_STATUSES:
        return "plan"
    if status in TERMINAL_STATUSES:
        return "terminal"
    if status in WAITING_STATUSES:
        return "waiting"
    if status in ACTION_STATUSES:
        return "action"
    return "unknown"


ToolName = Literal["google_search", "url_context", "code_execution"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Every token count Gemini reports for an answer (``usage`` of the interaction), kept for cost.

    ``initial_input_tokens`` is the prompt of the first hop: a continued answer re-sends (and bills) its input on
    every hop, so ``input_tokens`` sums them. The ``*_by_modality`` maps are modality → tokens;
    ``grounding_tool_counts`` is grounding tool type (``google_search``, ``google_maps``, ``retrieval``) → calls.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    thought_tokens: int = 0
    cached_tokens: int = 0
    tool_use_tokens: int = 0
    total_tokens: int = 0
    initial_input_tokens: int | None = None
    input_by_modality: Mapping[str, int] = field(default_factory=dict)
    output_by_modality: Mapping[str, int] = field(default_factory=dict)
    cached_by_modality: Mapping[str, int] = field(default_factory=dict)
    tool_use_by_modality: Mapping[str, int] = field(default_factory=dict)
    grounding_tool_counts: Mapping[str, int] = field(default_factory=dict)

    def __add__(self, later: Usage) -> Usage:
        """This hop's usage followed by a later hop's: every count summed, the first prompt kept."""
        return Usage(
            input_tokens=self.input_tokens + later.input_tokens,
            output_tokens=self.output_tokens + later.output_tokens,
            thought_tokens=self.thought_tokens + later.thought_tokens,
            cached_tokens=self.cached_tokens + later.cached_tokens,
            tool_use_tokens=self.tool_use_tokens + later.tool_use_tokens,
            total_tokens=self.total_tokens + later.total_tokens,
            initial_input_tokens=(
                self.initial_input_tokens if self.initial_input_tokens is not None else self.input_tokens
            ),
            input_by_modality=_sum_maps(self.input_by_modality, later.input_by_modality),
            output_by_modality=_sum_maps(self.output_by_modality, later.output_by_modality),
            cached_by_modality=_sum_maps(self.cached_by_modality, later.cached_by_modality),
            tool_use_by_modality=_sum_maps(self.tool_use_by_modality, later.tool_use_by_modality),
            grounding_tool_counts=_sum_maps(self.grounding_tool_counts, later.grounding_tool_counts),
        )

    def as_dict(self) -> dict[str, Any]:
        """Every field, as JSON-ready values (the store and the usage log lines keep this shape)."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "thought_tokens": self.thought_tokens,
            "cached_tokens": self.cached_tokens,
            "tool_use_tokens": self.tool_use_tokens,
            "total_tokens": self.total_tokens,
            "initial_input_tokens": self.initial_input_tokens,
            "input_by_modality": dict(self.input_by_modality),
            "output_by_modality": dict(self.output_by_modality),
            "cached_by_modality": dict(self.cached_by_modality),
            "tool_use_by_modality": dict(self.tool_use_by_modality),
            "grounding_tool_counts": dict(self.grounding_tool_counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


def _sum_maps(first: Mapping[str, int], second: Mapping[str, int]) -> dict[str, int]:
    out = dict(first)
    for key, value in second.items():
        out[key] = out.get(key, 0) + value
    return out


UsageKind = Literal["answer", "image", "research"]


@dataclass(frozen=True, slots=True)
class Cost:
    """The estimated cost of one billed call, from the price table: never Google's bill.

    ``usd`` is None when the price is unknown (a model the table does not price): shown as unknown, never 0.
    ``basis`` says where the figure comes from (the table's version, the model's row and its source), or why
    there is none.
    """

    usd: Decimal | None
    basis: str

    @property
    def known(self) -> bool:
        return self.usd is not None


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One billed call as the store keeps it: who, what, which model or agent, the usage and its cost."""

    interaction_id: str
    kind: UsageKind
    usage: Usage
    cost: Cost
    at: datetime
    model: str | None = None  # the model or agent that served
    owner: str | None = None
    source: str | None = None
    team_id: str | None = None


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """Billed calls summed over a group (``key``: an owner, or a UTC day ``YYYY-MM-DD``)."""

    key: str | None
    calls: int = 0
    research_runs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0  # thought tokens included: Google bills them as output
    cost_usd: Decimal = Decimal(0)  # of the calls with a known price
    unpriced_calls: int = 0  # calls whose price is unknown (not in cost_usd)


@dataclass(frozen=True, slots=True)
class Citation:
    url: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    data: bytes
    mime_type: str = "image/png"


AttachmentKind = Literal["image", "document", "audio", "text"]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A local file turned into an input part for Gemini."""

    name: str
    mime_type: str
    data: bytes
    kind: AttachmentKind


@dataclass(frozen=True, slots=True)
class Answer:
    """One interaction as we understand it: the text of every model_output step, in order.

    A long answer may arrive in several continuation hops; it is merged into one: ``interaction_id`` is the last
    hop's (continue from it), ``hop_ids`` lists them all, ``usage`` sums them. ``incomplete`` says why an
    answer stopped before its end (too many hops, out of time, a hop that failed); None when it is whole.
    ``model`` is the model that served the answer, as Gemini reports it (not necessarily the one asked for).
    """

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
    hop_ids: tuple[str, ...] = ()
    incomplete: str | None = None
    prompt: str = ""  # what the user sent: only an interaction read back (GET) carries its user_input steps
    previous_interaction_id: str | None = None  # the interaction this one continued
    cost: Cost | None = None  # set by the core once the call is recorded


@dataclass(frozen=True, slots=True)
class TextPiece:
    """Text of a streamed answer as Gemini writes it: the pieces of one answer, joined, are its ``text``."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolPiece:
    """A tool a streamed answer uses (``tool``: ``google_search``, ``code_execution``, ``url_context``, …):
    ``in_progress`` when Gemini calls it, ``complete`` when its result is in. ``detail``: the query or the code's
    first line, when the call carries one."""

    call_id: str
    tool: str
    status: Literal["in_progress", "complete"]
    detail: str | None = None


AnswerPiece = TextPiece | ToolPiece


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


def slack_user_of(owner: str | None) -> str | None:
    """The Slack user id of a ``slack:<team>:<user>`` owner; None for any other owner."""
    if not owner or not owner.startswith("slack:"):
        return None
    return owner.rsplit(":", 1)[1] or None


@dataclass(frozen=True, slots=True)
class Origin:
    """Who started a job and where its report goes."""

    source: Literal["mcp", "slack"]
    # ``token:<name>``, ``oidc:<issuer>#<sub>``, ``slack:<team>:<user>``, or None: the local user (``owners.py``)
    owner: str | None = None
    team_id: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None  # Slack: the "research started" message we update with progress

    @property
    def slack_user(self) -> str | None:
        return slack_user_of(self.owner)


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    """An interaction id we created, and whose it is (``owners.py``)."""

    interaction_id: str
    owner: str | None
    kind: str  # answer, image or research
    created_at: datetime


@dataclass(slots=True)
class ResearchJob:
    """A Deep Research run as we keep it. ``interaction_id`` is the id it was started with, for good.

    A planned job (``plan_first``) starts as a planning turn under that id; once the agent has proposed its
    ``plan`` the job is ``awaiting_approval``; ``approved_at`` marks the user's approval (with their ``changes``,
    if any), and ``run_id`` is the interaction that runs the approved plan. Either id names the job.
    """

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
    plan_first: bool = False
    plan: str | None = None
    approved_at: datetime | None = None
    changes: str | None = None
    run_id: str | None = None
    usage: Usage | None = None  # once finished, when Gemini reported it
    cost: Cost | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def awaiting_approval(self) -> bool:
        return self.status == AWAITING_APPROVAL

    @property
    def planning(self) -> bool:
        """A planned job whose planning turn is what runs upstream (not yet approved)."""
        return self.plan_first and self.approved_at is None

    @property
    def upstream_id(self) -> str:
        """The interaction that works for this job now: the approved run, else the one it started with."""
        return self.run_id or self.interaction_id


@dataclass(frozen=True, slots=True)
class StartIntent:
    """A research run about to be started (written before Gemini is asked): who asked, what, when, from where."""

    key: str  # provisional: the job's id until Gemini's is known, and for good if it never is
    prompt: str
    agent: str
    origin: Origin
    replica_id: str
    created_at: datetime
