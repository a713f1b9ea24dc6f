"""``list_research``: the caller's research jobs on this server, newest first."""

from mcp.types import ToolAnnotations

from ..errors import tool_errors
from ..identity import viewer
from ..inputs import Limit, StatusArg
from ..lifespan import Ctx
from ..results import ResearchList, job_summary
from .spec import ToolSpec


async def list_research(ctx: Ctx, status: StatusArg = None, limit: Limit = 20) -> ResearchList:
    """Your research jobs on this server, newest first. A job with status start_unknown is a start that was
    cut short (the server stopped, or its database failed) before Gemini's answer was recorded: the run may
    have happened, and been billed, so check AI Studio usage before starting it again."""
    core = ctx.request_context.lifespan_context.core
    with tool_errors("list_research"):
        jobs = await core.research.list(viewer=viewer(), status=status, limit=limit)
    return ResearchList(jobs=[job_summary(job) for job in jobs])


TOOL = ToolSpec(
    list_research,
    title="List research jobs",
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
)
