"""The server's lifespan: one Core per server process, what every tool reaches through its context
(``AppState``), and the task that turns research events into resource-update notifications.

``Core.running`` returns at once (the store opens in the background), so the MCP handshake never waits for it.
On shutdown the core's context is exited normally, shielded from the cancellation that stops the server and
bounded in time, so its watchers stop and their leases are released.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.abc
from mcp.server.mcpserver import Context

from .results import research_uri

if TYPE_CHECKING:
    from server.core import Core, Settings

log = logging.getLogger("server.mcp")

CoreFactory = Callable[["Settings"], AbstractAsyncContextManager["Core"]]
Publish = Callable[[str], Awaitable[None]]
Transport = Literal["stdio", "http"]

SHUTDOWN_GRACE_SECONDS = 15.0
PUMP_MAX_BACKOFF_SECONDS = 30.0


def default_core_factory(settings: Settings) -> AbstractAsyncContextManager[Core]:
    from server.core import Core

    return Core.running(settings)


@dataclass(frozen=True, slots=True)
class AppState:
    """What every tool reaches through ``ctx.request_context.lifespan_context``."""

    settings: Settings
    transport: Transport
    core: Core


@dataclass(slots=True)
class CoreSlot:
    """The running Core, for what is served outside MCP requests (HTTP routes); None before and after."""

    core: Core | None = None


#: The context a tool asks for: ``ctx.request_context.lifespan_context`` is typed as our AppState.
Ctx = Context[AppState, Any]


async def pump_research_events(core: Core, publish: Publish) -> None:
    """Research job events → resource-updated notifications; re-subscribes with backoff on failure."""
    backoff = 1.0
    while True:
        try:
            await core.opened()  # a database not up yet is retried by the core, and logged there
            async with core.research.events() as events:
                backoff = 1.0
                async for event in events:
                    # A planned job answers to its run's id too: watchers of either URI hear of it.
                    for job_id in dict.fromkeys((event.job.interaction_id, event.job.upstream_id)):
                        try:
                            await publish(research_uri(job_id))
                        except Exception:
                            log.exception("publishing a research update failed")
            log.warning("the research event stream ended; subscribing again")
        except Exception:
            log.exception("the research event stream failed; retrying in %.0f s", backoff)
        await anyio.sleep(backoff)
        backoff = min(backoff * 2, PUMP_MAX_BACKOFF_SECONDS)


def lifespan_for(
    settings: Settings,
    *,
    transport: Transport,
    core_factory: CoreFactory,
    publish: Publish,
    slot: CoreSlot | None = None,
) -> Callable[[Any], AbstractAsyncContextManager[AppState]]:
    @asynccontextmanager
    async def lifespan(_server: Any) -> AsyncIterator[AppState]:
        stop = anyio.Event()
        shield = anyio.CancelScope(shield=True)

        async def run_core(*, task_status: anyio.abc.TaskStatus[Core] = anyio.TASK_STATUS_IGNORED) -> None:
            # Shielded from the cancellation that stops the server: the core closes when `stop` is set, within
            # the grace period (the scope's deadline), so its watchers stop and their leases are released.
            with shield:
                async with core_factory(settings) as core:
                    task_status.started(core)
                    await stop.wait()
            if shield.cancelled_caught:
                log.warning("the core did not close within %.0f s", SHUTDOWN_GRACE_SECONDS)

        async with anyio.create_task_group() as tg:
            core = await tg.start(run_core, name="core")
            tg.start_soon(pump_research_events, core, publish, name="research events → MCP notifications")
            if slot is not None:
                slot.core = core
            try:
                yield AppState(settings=settings, transport=transport, core=core)
            finally:
                if slot is not None:
                    slot.core = None
                stop.set()
                shield.deadline = anyio.current_time() + SHUTDOWN_GRACE_SECONDS
                tg.cancel_scope.cancel()  # the pump; the shielded core task finishes on its own

    return lifespan
