"""The ``research://{interaction_id}`` resource (a run's whole report) and who may watch it."""

import logging
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from server.core import Forbidden, GeminiInteractionsError, NotFound

from .errors import DATABASE_FAILURE, is_database_error
from .identity import viewer
from .lifespan import AppState, Ctx
from .results import RESEARCH_PREFIX, report_markdown
from .subscriptions import ResourceUpdates

log = logging.getLogger("server.mcp")


async def research_report(interaction_id: str, ctx: Ctx) -> str:
    core = ctx.request_context.lifespan_context.core
    try:
        job = await core.research.get(interaction_id, viewer=viewer())
        report = await anyio.to_thread.run_sync(core.research.read_report, job)
    except (NotFound, Forbidden):
        raise ResourceNotFoundError(
            f"No research job {interaction_id} here (unknown id, or started by another user). "
            "See list_research for yours."
        ) from None
    except GeminiInteractionsError as exc:
        raise ResourceError(str(exc)) from None
    except Exception as exc:
        if not is_database_error(exc):
            raise
        log.error("reading %s: the job database failed", interaction_id, exc_info=exc)
        raise ResourceError(DATABASE_FAILURE.format(tool=f"research://{interaction_id}")) from None
    return report_markdown(job, report)


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
    updates.install(server, authorize)
