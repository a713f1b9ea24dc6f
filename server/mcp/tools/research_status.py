"""``research_status``: a run's status, progress and one page of its report, from this server's store."""

from typing import Annotated

import anyio
from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from ..apps import RESEARCH_VIEW, charts_meta
from ..errors import tool_errors
from ..identity import viewer
from ..inputs import MaxChars, Offset, ResearchId
from ..lifespan import Ctx
from ..results import ResearchStatusResult, job_document, status_page, status_text
from .spec import ToolSpec


async def research_status(
    interaction_id: ResearchId, ctx: Ctx, offset: Offset = 0, max_chars: MaxChars = 8000
) -> Annotated[CallToolResult, ResearchStatusResult]:
    """Status, latest progress and one page of the report of a research job (answered from this server's
    store, no Gemini call); for a job started with plan_first, the proposed plan (status awaiting_approval
    until approve_research); once it has finished, its token usage and estimated cost. When more remains it
    says "call again with offset N"."""
    core = ctx.request_context.lifespan_context.core
    with tool_errors("research_status", interaction_id):
        job = await core.research.get(interaction_id, viewer=viewer())
        report = job_document(job, await anyio.to_thread.run_sync(core.research.read_report, job))
        if offset > len(report) and (report or job.terminal):
            raise ToolError(
                f"offset {offset} is past the end of the report ({len(report)} characters). "
                "Call research_status with offset 0 to read it from the start."
            )
        result = status_page(job, report, offset=offset, max_chars=max_chars)
    return CallToolResult(
        content=[TextContent(type="text", text=status_text(result))],
        structured_content=result.model_dump(),
        # For the view only (other clients' results stay as they were): where the report's charts are.
        _meta=charts_meta(job.interaction_id, len(job.image_paths)) if client_supports_apps(ctx) else None,
    )


TOOL = ToolSpec(
    research_status,
    title="Research status and report",
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    view=RESEARCH_VIEW,
)
