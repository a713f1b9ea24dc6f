"""``start_research``: start a Deep Research run in the background and return at once."""

from mcp.types import ToolAnnotations

from ..apps import RESEARCH_VIEW
from ..errors import tool_errors
from ..identity import viewer
from ..inputs import AgentArg, PlanFirst, ResearchBrief
from ..lifespan import Ctx
from ..results import ResearchStarted, research_uri
from .spec import ToolSpec


async def start_research(
    prompt: ResearchBrief, ctx: Ctx, agent: AgentArg = None, plan_first: PlanFirst = False
) -> ResearchStarted:
    """Start a Gemini Deep Research job in the background and return at once. It searches the web and
    writes a cited markdown report, usually in 5-20 minutes (at most 60); it costs a few dollars on a paid
    key (refused, with which limit and when it resets, when the operator's daily or monthly limits are
    reached). With plan_first=true the agent first proposes a plan (a minute or two, cheap): review it with
    research_status, then approve_research runs it (as planned or with your changes) or cancel_research drops
    it. Follow a job with research_status or the research://{interaction_id} resource. Jobs and reports are
    kept on this server; continue_thread on the id works while Gemini keeps the interaction (55 days on a
    paid key, 1 day on the free tier)."""
    core = ctx.request_context.lifespan_context.core
    with tool_errors("start_research"):
        job = await core.research.start(prompt, agent=agent, origin=viewer(), plan_first=plan_first)
    uri = research_uri(job.interaction_id)
    if plan_first:
        hint = (
            f"Drafting a research plan. Call research_status(interaction_id='{job.interaction_id}') in a minute "
            f"(or subscribe to {uri}): once its status is awaiting_approval it shows the plan; then "
            f"approve_research(interaction_id='{job.interaction_id}', changes=...) runs it, or cancel_research "
            "drops it."
        )
    else:
        hint = (
            f"Research started. Check it with research_status(interaction_id='{job.interaction_id}') "
            f"every minute or so, or read/subscribe to {uri}; the report is kept on this server."
        )
    return ResearchStarted(interaction_id=job.interaction_id, status=job.status, resource_uri=uri, hint=hint)


TOOL = ToolSpec(
    start_research,
    title="Start Deep Research",
    annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True),
    view=RESEARCH_VIEW,
)
