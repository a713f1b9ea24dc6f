"""``cancel_research``: stop a running research job (only its owner may)."""

from mcp.types import ToolAnnotations

from ..errors import tool_errors
from ..identity import viewer
from ..inputs import ResearchId
from ..lifespan import Ctx
from ..results import JobSummary, job_summary
from .spec import ToolSpec


async def cancel_research(interaction_id: ResearchId, ctx: Ctx) -> JobSummary:
    """Cancel a running research job (Gemini stops working on it; nothing is reported)."""
    core = ctx.request_context.lifespan_context.core
    with tool_errors("cancel_research", interaction_id):
        job = await core.research.cancel(interaction_id, viewer=viewer())
    return job_summary(job)


TOOL = ToolSpec(
    cancel_research,
    title="Cancel research",
    annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
    ),
)
