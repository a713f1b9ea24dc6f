"""``approve_research``: run a planned research job (status ``awaiting_approval``), as planned or with changes."""

from mcp.types import ToolAnnotations

from ..apps import RESEARCH_VIEW
from ..errors import tool_errors
from ..identity import viewer
from ..inputs import Changes, ResearchId
from ..lifespan import Ctx
from ..results import ResearchStarted, research_uri
from .spec import ToolSpec


async def approve_research(interaction_id: ResearchId, ctx: Ctx, changes: Changes = None) -> ResearchStarted:
    """Run the plan of a research job started with plan_first=true, once research_status shows it
    awaiting_approval: as proposed, or with your changes (they go to the agent with the approval). The run
    then goes on in the background like any research job (minutes, a few dollars on a paid key); the job keeps
    its interaction_id. Only the caller who started the job may approve it, and only once."""
    core = ctx.request_context.lifespan_context.core
    with tool_errors("approve_research", interaction_id):
        job = await core.research.approve(interaction_id, viewer=viewer(), changes=changes)
    uri = research_uri(job.interaction_id)
    if job.terminal:
        hint = f"The job ended ({job.status}) before its run could start; nothing runs."
    else:
        with_changes = " with your changes" if job.changes else " as planned"
        hint = (
            f"Approved: the research runs{with_changes}. Check it with "
            f"research_status(interaction_id='{job.interaction_id}') every minute or so, or subscribe to {uri}."
        )
    return ResearchStarted(
        interaction_id=job.interaction_id,
        status=job.status,
        resource_uri=uri,
        hint=hint,
        run_interaction_id=job.run_id,
    )


TOOL = ToolSpec(
    approve_research,
    title="Approve a research plan",
    annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
    ),
    view=RESEARCH_VIEW,
)
