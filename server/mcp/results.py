"""The shapes our tools return (their output schemas) and the functions that fill them from core types."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent
from pydantic import BaseModel, Field

from server.core import START_UNKNOWN, format_usd
from server.core import elapsed_seconds as elapsed

if TYPE_CHECKING:
    from server.core import Answer, Cost, ResearchJob, Usage
    from server.core import ImageResult as CoreImageResult

MAX_PROMPT_ECHO = 200
RESEARCH_PREFIX = "research://"


def research_uri(interaction_id: str) -> str:
    return f"{RESEARCH_PREFIX}{interaction_id}"


class UsageOut(BaseModel):
    """Every count Gemini reported, summed over the parts of a long answer."""

    input_tokens: int = Field(default=0, description="Prompt tokens (re-sent, and counted, for every part).")
    output_tokens: int = 0
    thought_tokens: int = 0
    cached_tokens: int = 0
    tool_use_tokens: int = 0
    total_tokens: int = 0
    initial_input_tokens: int | None = Field(default=None, description="Prompt tokens of the first part.")
    input_by_modality: dict[str, int] = Field(default_factory=dict)
    output_by_modality: dict[str, int] = Field(default_factory=dict)
    cached_by_modality: dict[str, int] = Field(default_factory=dict)
    tool_use_by_modality: dict[str, int] = Field(default_factory=dict)
    grounding_tool_counts: dict[str, int] = Field(
        default_factory=dict, description="Grounding tool calls by type (google_search …)."
    )


def usage_out(usage: Usage) -> UsageOut:
    return UsageOut(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        thought_tokens=usage.thought_tokens,
        cached_tokens=usage.cached_tokens,
        tool_use_tokens=usage.tool_use_tokens,
        total_tokens=usage.total_tokens,
        initial_input_tokens=usage.initial_input_tokens,
        input_by_modality=dict(usage.input_by_modality),
        output_by_modality=dict(usage.output_by_modality),
        cached_by_modality=dict(usage.cached_by_modality),
        tool_use_by_modality=dict(usage.tool_use_by_modality),
        grounding_tool_counts=dict(usage.grounding_tool_counts),
    )


class CostOut(BaseModel):
    """What the call is estimated to have cost, from the server's price table: an estimate, not Google's bill."""

    estimated_usd: float | None = Field(
        description="Estimated cost in US dollars; null when the model's price is unknown (never 0 for unknown)."
    )
    basis: str = Field(
        description="Where the estimate comes from (price table, source, date), or why unknown."
    )


def cost_out(cost: Cost | None) -> CostOut | None:
    if cost is None:
        return None
    return CostOut(estimated_usd=None if cost.usd is None else float(cost.usd), basis=cost.basis)


def cost_line(usage: UsageOut | None, cost: CostOut | None) -> str | None:
    """``Usage: 1,200 tokens in, 5,400 out (thinking included); estimated cost $0.42 (an estimate …).``"""
    parts = []
    if usage is not None:
        parts.append(
            f"usage: {usage.input_tokens:,} tokens in, {usage.output_tokens + usage.thought_tokens:,} out "
            "(thinking included)"
        )
    if cost is not None:
        if cost.estimated_usd is None:
            parts.append(f"cost unknown ({cost.basis})")
        else:
            amount = format_usd(Decimal(str(cost.estimated_usd)))
            parts.append(f"estimated cost {amount} (an estimate from the server's price table)")
    if not parts:
        return None
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


class CitationOut(BaseModel):
    url: str
    title: str | None = None


class AskResult(BaseModel):
    interaction_id: str = Field(
        description="Pass to continue_thread for a follow-up in the same conversation."
    )
    model: str | None = Field(
        description="The model that answered, as Gemini reports it (it may route a retired id)."
    )
    text: str = Field(description="The whole answer; JSON text when a response_schema was given.")
    usage: UsageOut | None = Field(default=None, description="Token counts, when Gemini reported them.")
    citations: list[CitationOut] = Field(default_factory=list, description="Sources cited (google_search).")
    incomplete: str | None = Field(
        default=None, description="Set when the answer stopped before its end: why, and what to do."
    )
    cost: CostOut | None = Field(default=None, description="Estimated cost of this call (an estimate).")


def ask_result(answer: Answer) -> AskResult:
    return AskResult(
        interaction_id=answer.interaction_id,
        model=answer.model or answer.agent,
        text=answer.text,
        usage=usage_out(answer.usage) if answer.usage else None,
        citations=[CitationOut(url=c.url, title=c.title) for c in answer.citations],
        incomplete=answer.incomplete,
        cost=cost_out(answer.cost),
    )


class ImageFile(BaseModel):
    path: str = Field(description="Absolute path of the full-size image saved on the server's machine.")
    mime_type: str
    bytes: int = Field(description="Size of the saved file in bytes.")


class ImageResult(BaseModel):
    interaction_id: str = Field(
        description="Pass to generate_image to refine, or to continue_thread to discuss."
    )
    images: list[ImageFile]
    text: str = Field(description="Any text the model returned with the image.")
    cost: CostOut | None = Field(default=None, description="Estimated cost of this call (an estimate).")


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MiB" if n >= 1048576 else f"{n / 1024:.0f} KiB"


def image_call_result(result: CoreImageResult, previews: list[tuple[bytes, str] | None]) -> CallToolResult:
    """A summary, then per image an inline preview (when there is one) and a link to the full file."""
    iid = result.answer.interaction_id
    said = result.answer.text.strip()
    lines = [f"Generated {len(result.files)} image(s) (interaction {iid}):"]
    for f in result.files:
        size = f"{f.width}x{f.height}, {_size(f.bytes)}" if f.width else _size(f.bytes)
        lines.append(f"- {f.path} ({size})")
    if said:
        lines.append(f"Model's note: {said}")
    if result.answer.incomplete:
        lines.append(result.answer.incomplete)
    if (spent := cost_line(None, cost_out(result.answer.cost))) is not None:
        lines.append(spent)
    lines.append(f"To refine it, call generate_image with interaction_id='{iid}' and what to change.")
    content: list[Any] = [TextContent(type="text", text="\n".join(lines))]
    for saved, shown in zip(result.files, previews, strict=True):
        if shown is not None:
            data, mime_type = shown
            content.append(
                ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type=mime_type)
            )
        content.append(
            ResourceLink(
                type="resource_link",
                name=Path(saved.path).name,
                uri=Path(saved.path).as_uri(),
                mime_type=saved.mime_type,
                size=saved.bytes,
                description="The full-size image file.",
            )
        )
    structured = ImageResult(
        interaction_id=iid,
        images=[ImageFile(path=str(f.path), mime_type=f.mime_type, bytes=f.bytes) for f in result.files],
        text=said,
        cost=cost_out(result.answer.cost),
    )
    return CallToolResult(content=content, structured_content=structured.model_dump())


class ResearchStarted(BaseModel):
    interaction_id: str = Field(description="The research job id (also its Gemini interaction id).")
    status: str
    resource_uri: str = Field(description="research://{interaction_id}: the whole report, updated when done.")
    hint: str
    run_interaction_id: str | None = Field(
        default=None,
        description="A planned job's approved run (its own Gemini interaction id), once started.",
    )


STATUSES = (
    "in_progress, awaiting_approval (a plan waits for approve_research), completed, failed, cancelled, "
    "incomplete, budget_exceeded, timed_out or start_unknown (the start was cut short before Gemini's answer "
    "was recorded: it may have run and been billed; check AI Studio usage before starting it again)"
)


class ResearchStatusResult(BaseModel):
    interaction_id: str
    status: str = Field(description=f"{STATUSES}.")
    plan: str | None = Field(
        default=None, description="The research plan the agent proposed (jobs started with plan_first)."
    )
    run_interaction_id: str | None = Field(
        default=None, description="A planned job's approved run (its own Gemini interaction id)."
    )
    elapsed_seconds: float = Field(description="Seconds since the job started (until it finished).")
    progress: str | None = Field(description="The latest progress note from the research agent.")
    report: str = Field(
        description="One page of the markdown report ('' until the job completes); while a planned job awaits "
        "approval, one page of its plan."
    )
    offset: int = Field(description="Where this page starts in the report (characters).")
    next_offset: int | None = Field(description="Offset of the next page; null when nothing more remains.")
    total_chars: int = Field(description="Length of the whole report in characters.")
    report_path: str | None = Field(description="The report file on the server's machine, once written.")
    error: str | None = Field(description="Why the job failed, if it did.")
    usage: UsageOut | None = Field(
        default=None, description="Tokens the run used, once it has finished (when Gemini reported them)."
    )
    cost: CostOut | None = Field(default=None, description="Estimated cost of the run, once it has finished.")
    hint: str = Field(description="What to do next.")


class JobSummary(BaseModel):
    interaction_id: str = Field(
        description="The job id: Gemini's interaction id, or start-… for a start_unknown job (no run id known)."
    )
    status: str = Field(description=f"{STATUSES}.")
    prompt: str = Field(description=f"The research request (first {MAX_PROMPT_ECHO} characters).")
    agent: str
    created_at: str | None = Field(description="ISO-8601 UTC time the job started.")
    finished_at: str | None = None
    elapsed_seconds: float
    progress: str | None = None
    error: str | None = Field(
        default=None, description="Why it failed, or what to do about a start_unknown job."
    )
    report_path: str | None = None
    resource_uri: str
    run_interaction_id: str | None = Field(default=None, description="A planned job's approved run.")
    estimated_cost_usd: float | None = Field(
        default=None, description="Estimated cost of a finished run (an estimate); null while unknown."
    )


class ResearchList(BaseModel):
    jobs: list[JobSummary] = Field(description="Newest first.")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def elapsed_seconds(job: ResearchJob) -> float:
    return round(elapsed(job), 1)


def job_summary(job: ResearchJob) -> JobSummary:
    prompt = job.prompt if len(job.prompt) <= MAX_PROMPT_ECHO else job.prompt[: MAX_PROMPT_ECHO - 1] + "…"
    return JobSummary(
        interaction_id=job.interaction_id,
        status=job.status,
        prompt=prompt,
        agent=job.agent,
        created_at=_iso(job.created_at),
        finished_at=_iso(job.finished_at),
        elapsed_seconds=elapsed_seconds(job),
        progress=job.progress,
        error=job.error,
        report_path=job.report_path,
        resource_uri=research_uri(job.interaction_id),
        run_interaction_id=job.run_id,
        estimated_cost_usd=float(job.cost.usd) if job.cost and job.cost.usd is not None else None,
    )


def status_page(job: ResearchJob, report: str, *, offset: int, max_chars: int) -> ResearchStatusResult:
    """One page of the report, with the offset of the next one and a hint that says what to do next."""
    page = report[offset : offset + max_chars]
    end = offset + len(page)
    next_offset = end if end < len(report) else None
    uri = research_uri(job.interaction_id)
    if next_offset is not None:
        hint = (
            f"Showing characters {offset}-{end} of {len(report)}. More remains: call again with offset "
            f"{next_offset} (research_status, same interaction_id), or read {uri} for the whole report."
        )
    elif job.awaiting_approval:
        hint = (
            f"The plan awaits your approval: approve_research(interaction_id='{job.interaction_id}') runs "
            "it as proposed, approve_research with changes='…' runs it with your changes, cancel_research drops it."
        )
    elif job.planning and not job.terminal:
        hint = (
            f"Drafting a research plan ({elapsed_seconds(job):.0f} s so far). Call research_status again in a "
            f"minute, or subscribe to {uri}: it shows the plan once it is ready to approve."
        )
    elif not job.terminal:
        hint = (
            f"Still running ({elapsed_seconds(job):.0f} s so far; Deep Research usually takes 5-20 minutes). "
            f"Call research_status again in a minute, or subscribe to {uri} to be notified when it finishes."
        )
    elif job.status == "completed":
        hint = (
            "The report is complete." if offset == 0 else f"End of the report ({len(report)} characters)."
        ) + f" Ask follow-up questions with continue_thread(interaction_id='{job.interaction_id}')."
    elif job.status == START_UNKNOWN:
        hint = (
            f"{job.error or 'This start was cut short before Gemini answered.'} Then start it again with "
            "start_research if it did not run."
        )
    else:
        hint = f"The job ended with status {job.status}. Start a new one with start_research if needed."
    return ResearchStatusResult(
        interaction_id=job.interaction_id,
        status=job.status,
        plan=job.plan,
        run_interaction_id=job.run_id,
        elapsed_seconds=elapsed_seconds(job),
        progress=job.progress,
        report=page,
        offset=offset,
        next_offset=next_offset,
        total_chars=len(report),
        report_path=job.report_path,
        error=job.error,
        usage=usage_out(job.usage) if job.usage else None,
        cost=cost_out(job.cost),
        hint=hint,
    )


def status_text(result: ResearchStatusResult) -> str:
    """The same page as readable text for the model: a header, the report page, the what-next line."""
    lines = [f"Research {result.interaction_id}: {result.status} ({result.elapsed_seconds:.0f} s)."]
    if result.progress and result.status == "in_progress":
        lines.append(f"Latest progress: {result.progress}")
    if result.error:
        lines.append(f"Error: {result.error}")
    if (spent := cost_line(result.usage, result.cost)) is not None:
        lines.append(spent)
    if result.report:
        heading = ["", "Proposed plan:"] if result.status == "awaiting_approval" else []
        lines += [*heading, "", result.report, ""]
    lines.append(result.hint)
    return "\n".join(lines)


def job_document(job: ResearchJob, report: str) -> str:
    """What a job has to show: its report, or while a planned job awaits approval, its plan (the MCP App view
    reads it the same way, from the resource or research_status pages)."""
    if job.awaiting_approval and not report:
        return job.plan or ""
    return report


def report_markdown(job: ResearchJob, report: str) -> str:
    """The research:// resource body: the whole report (a plan awaiting approval: the plan), or a short note
    while there is none yet."""
    document = job_document(job, report)
    if document:
        return document
    if not job.terminal:
        progress = f"\n\nLatest progress: {job.progress}" if job.progress else ""
        return (
            f"_Research {job.interaction_id} is still running ({elapsed_seconds(job):.0f} s so far). "
            f"This resource is updated when it finishes._{progress}\n"
        )
    reason = f": {job.error}" if job.error else "."
    return f"_Research {job.interaction_id} ended with status {job.status} and no report{reason}_\n"
