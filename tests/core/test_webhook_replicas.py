"""Across replicas on PostgreSQL: Gemini delivers to one replica, the replica that holds the run's lease is woken
(LISTEN/NOTIFY) and fetches and finishes it at once; the receiving replica never touches the run upstream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from server.core import WEBHOOK_PATH, Core, Origin, Settings, webhook_endpoint
from server.emulator import Emulator
from tests.support.webhooks import register, serve_asgi, until

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

MCP = Origin(source="mcp", owner="local")


async def test_a_delivery_to_one_replica_finishes_the_run_its_peer_holds(
    settings_for: Callable[..., Settings], emu: Emulator, pg_url: str, tmp_path: Path
) -> None:
    receivers: list[Core] = []
    app = Starlette(
        routes=[
            Route(
                WEBHOOK_PATH,
                webhook_endpoint(lambda: receivers[0].webhooks if receivers else None),
                methods=["POST"],
            )
        ]
    )
    async with serve_asgi(app) as base:
        secret = await register(settings_for(), base + WEBHOOK_PATH)

        def replica(name: str) -> Settings:
            return settings_for(
                data_dir=tmp_path / name,
                database_url=pg_url,
                public_url=base,
                webhook_secret=secret,
                webhook_safety_poll_seconds=120.0,
                lease_seconds=5.0,
            )

        async with (
            Core.running(replica("a"), replica_id="a") as a,
            Core.running(replica("b"), replica_id="b") as b,
        ):
            await a.ready()
            await b.ready()
            receivers.append(b)  # Gemini reaches b only (the load balancer sent it there)
            job = await a.research.start("tides [emulator:research_seconds=1.0]", origin=MCP)
            ended = anyio.current_time()

            async def finished() -> bool:
                return (await b.research.get(job.interaction_id, viewer=MCP)).terminal

            await until(finished, what="the run to finish")
            seen = anyio.current_time()
    run = job.interaction_id
    assert [r.status for r in emu.webhooks.deliveries()] == [200]
    assert emu.stats.replicas_for(run) == ["a"]  # the holder created and fetched it; b only received
    assert emu.stats.requests_for(run) == {"create": 1, "get": 1}
    assert seen - ended < 10.0  # pushed: nowhere near the 120 s safety poll
