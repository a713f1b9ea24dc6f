"""The tools' arguments as the host sees them: each a type with a ``Field(description=…)`` (and its limits).

Tool modules annotate their parameters with these, so two tools that take the same argument describe it the
same way.
"""

from typing import Annotated, Any, Literal

from pydantic import Field

from server.core import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_MODEL,
    DEFAULT_RESEARCH_AGENT,
    THOROUGH_RESEARCH_AGENT,
    ResearchStatus,
    ThinkingLevel,
    ToolName,
)

AspectRatio = Literal[
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9", "1:8", "8:1", "1:4", "4:1"
]
StatusFilter = ResearchStatus

Prompt = Annotated[str, Field(min_length=1, description="What to ask Gemini, in plain language.")]
SystemInstruction = Annotated[
    str | None,
    Field(default=None, description="Optional instructions that steer how Gemini answers (role, tone)."),
]
Tools = Annotated[
    list[ToolName] | None,
    Field(
        default=None,
        description="Built-in Gemini tools to allow: google_search (fresh facts, cited), url_context "
        "(read URLs in the prompt), code_execution (run Python for maths/data).",
    ),
]
ResponseSchema = Annotated[
    dict[str, Any] | None,
    Field(
        default=None,
        description="A JSON Schema the answer must follow; the answer text is then JSON matching it.",
    ),
]
Attachments = Annotated[
    list[str] | None,
    Field(
        default=None,
        max_length=10,
        description="Absolute paths of local files to send with the prompt: images (PNG, JPEG, WebP, HEIC, "
        "GIF), PDF, audio (WAV, MP3, AIFF, AAC, OGG, FLAC, M4A, Opus) or UTF-8 text; at most 10 files and "
        "14 MiB.",
    ),
]
ModelArg = Annotated[
    str | None,
    Field(
        default=None,
        max_length=200,
        description=f"Gemini model id (default: GEMINI_INTERACTIONS_MODEL, else {DEFAULT_MODEL}, an alias that "
        "follows Google's current Flash model). To pin a model give an exact id, e.g. gemini-3.8-flash or "
        "gemini-pro-latest.",
    ),
]
ThinkingLevelArg = Annotated[
    ThinkingLevel | None,
    Field(
        default=None,
        description="How long Gemini thinks before answering: minimal, low, medium, high or xhigh (default: "
        "GEMINI_INTERACTIONS_THINKING_LEVEL, else the model's own). Lower is faster: use it when the host "
        "cuts tool calls short.",
    ),
]
ImageModelArg = Annotated[
    str | None,
    Field(
        default=None,
        max_length=200,
        description=f"Image model id (default: GEMINI_INTERACTIONS_IMAGE_MODEL, else {DEFAULT_IMAGE_MODEL}).",
    ),
]
AgentArg = Annotated[
    str | None,
    Field(
        default=None,
        max_length=200,
        description=f"Deep Research agent (default: GEMINI_INTERACTIONS_RESEARCH_AGENT, else "
        f"{DEFAULT_RESEARCH_AGENT}; {THOROUGH_RESEARCH_AGENT} is slower and more thorough).",
    ),
]
InteractionId = Annotated[
    str,
    Field(min_length=1, max_length=200, description="An interaction id an earlier call returned to you."),
]
ImagePrompt = Annotated[str, Field(min_length=1, description="What to draw, or how to change the image.")]
AspectRatioArg = Annotated[
    AspectRatio | None, Field(default=None, description="Width:height of the image (default 1:1).")
]
RefineId = Annotated[
    str | None,
    Field(default=None, max_length=200, description="Refine the image of this earlier interaction of yours."),
]
ResearchBrief = Annotated[
    str,
    Field(min_length=1, description="The research question or brief; the more specific the better."),
]
ResearchId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="The research job id (a planned job also answers to the id of its approved run).",
    ),
]
PlanFirst = Annotated[
    bool,
    Field(
        default=False,
        description="Propose a research plan first and wait: the job shows status awaiting_approval with the "
        "plan (research_status), and nothing costly runs until approve_research (or cancel_research).",
    ),
]
Changes = Annotated[
    str | None,
    Field(
        default=None,
        max_length=20000,
        description="What to change in the proposed plan, in plain language (e.g. 'focus on Europe, skip the "
        "history'). Leave out to run the plan as proposed.",
    ),
]
Offset = Annotated[
    int, Field(default=0, ge=0, description="Where to start reading the report (from next_offset).")
]
MaxChars = Annotated[int, Field(default=8000, ge=500, le=50000, description="Characters of report per page.")]
StatusArg = Annotated[StatusFilter | None, Field(default=None, description="Only jobs with this status.")]
Limit = Annotated[int, Field(default=20, ge=1, le=100, description="At most this many jobs.")]
