"""The resources: a research run's whole report (``research://{interaction_id}``) and its charts
(``research://{interaction_id}/images/{n}``), a generated image and its thread (``image://…``, ``images.py``),
and who may watch a report.

Every research resource reads the job through ``core.research.get(…, viewer=…)``, the call that decides whose
job it is: another owner's id answers "not found", like an unknown one.
"""

from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from server.core import GeminiInteractionsError, as_png

from . import images
from .errors import nth, resource_errors
from .identity import viewer
from .lifespan import AppState, Ctx
from .results import RESEARCH_PREFIX, report_markdown, research_uri
from .subscriptions import ResourceUpdates


def no_job(interaction_id: str) -> str:
    return (
        f"No research job {interaction_id} here (unknown id, or started by another user). "
        "See list_research for yours."
    )


async def research_report(interaction_id: str, ctx: Ctx) -> str:
    core = ctx.request_context.lifespan_context.core
    with resource_errors(research_uri(interaction_id), missing=no_job(interaction_id)):
        job = await core.research.get(interaction_id, viewer=viewer())
        report = await anyio.to_thread.run_sync(core.research.read_report, job)
    return report_markdown(job, report)


async def research_chart(interaction_id: str, n: str, ctx: Ctx) -> bytes:
    core = ctx.request_context.lifespan_context.core
    prefix = f"{research_uri(interaction_id)}/images/"
    with resource_errors(f"{prefix}{n}", missing=no_job(interaction_id)):
        job = await core.research.get(interaction_id, viewer=viewer())
        charts = await core.research.report_images(job)
    chart = nth(charts, n, uri_prefix=prefix, what=f"The report of research {interaction_id} (charts)")
    return await anyio.to_thread.run_sync(as_png, chart)


async def authorize(ctx: ServerRequestContext[AppState, Any], uri: str) -> None:
    """Only a research:// resource the caller may read can be watched."""
    if not uri.startswith(RESEARCH_PREFIX):
        raise MCPError(
            INVALID_PARAMS, f"Only research://{{interaction_id}} resources can be watched, not {uri}."
        )
    core = ctx.lifespan_context.core
    try:
        await core.research.get(uri.removeprefix(RESEARCH_PREFIX), viewer=viewer())
    except GeminiInteractionsError as exc:
        raise MCPError(INVALID_PARAMS, f"Cannot watch {uri}: {exc}") from None


def register(server: MCPServer[AppState], updates: ResourceUpdates) -> None:
    server.resource(
        f"{RESEARCH_PREFIX}{{interaction_id}}",
        name="research_report",
        title="Deep Research report",
        description="The whole markdown report of a research job (a short note while it runs). "
        "Subscribe to be notified when the job progresses or finishes.",
        mime_type="text/markdown",
    )(research_report)
    server.resource(
        f"{RESEARCH_PREFIX}{{interaction_id}}/images/{{n}}",
        name="research_chart",
        title="Deep Research chart",
        description="Chart n (1, 2, …) of a finished research report, as PNG.",
        mime_type="image/png",
    )(research_chart)
    images.register(server)
    updates.install(server, authorize)
