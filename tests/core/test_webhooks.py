"""Runs finished by Gemini's webhooks: the emulator delivers to our real endpoint (served on loopback), the
delivery wakes the watcher, which fetches the run once. Late, duplicate, out-of-order, missing, forged and stale
deliveries each end with the run finished exactly once, on two upstream requests when nothing is missing. A
planned job's planning turn and its approved run are each finished by their own delivery, as a poll would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.routing import Route

from server.core import WEBHOOK_PATH, Core, Origin, Settings, webhook_endpoint
from server.emulator import Emulator
from tests.support.webhooks import register, serve_asgi, until

pytestmark = pytest.mark.anyio

MCP = Origin(source="mcp", owner="local")


class Deployment:
    """A core with webhooks on, its endpoint reachable by the emulator, and every 'finished' event it hears."""

    def __init__(self, core: Core, url: str) -> None:
        self.core = core
        self.url = url
        self.finished: list[str] = []
        self.planned: list[str] = []

    async def listen(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        async with self.core.research.events() as events:
            task_status.started()
            async for event in events:
                if event.kind == "finished":
                    self.finished.append(event.job.interaction_id)
                elif event.kind == "plan":
                    self.planned.append(event.job.interaction_id)

    async def run(self, topic: str, timeout: float = 15.0) -> str:
        job = await self.core.research.start(topic, origin=MCP)

        async def ended() -> bool:
            return (await self.core.research.get(job.interaction_id, viewer=MCP)).terminal

        await until(ended, timeout=timeout, what="the run to end")
        return job.interaction_id


@asynccontextmanager
async def deployment(settings_for: Callable[..., Settings], **overrides: Any) -> AsyncIterator[Deployment]:
    """The endpoint is served first (the operator registers its URL and gets the secret), then the core."""
    cores: list[Core] = []
    app = Starlette(
        routes=[
            Route(
                WEBHOOK_PATH,
                webhook_endpoint(lambda: cores[0].webhooks if cores else None),
                methods=["POST"],
            )
        ]
    )
    async with serve_asgi(app) as base:
        secret = await register(settings_for(), base + WEBHOOK_PATH)
        values = {"public_url": base, "webhook_secret": secret, "webhook_safety_poll_seconds": 60.0}
        async with Core.running(settings_for(**(values | overrides))) as core:
            await core.ready()
            cores.append(core)
            found = Deployment(core, base + WEBHOOK_PATH)
            async with anyio.create_task_group() as tg:
                await tg.start(found.listen)
                yield found
                await anyio.sleep(0.3)  # late duplicates have their chance to finish it twice
                tg.cancel_scope.cancel()


def outcomes(emu: Emulator) -> list[int | None]:
    return [record.status for record in emu.webhooks.deliveries()]


async def test_a_run_finishes_by_webhook_without_a_stream_on_two_requests(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    async with deployment(settings_for) as d:
        run = await d.run("tides")
        assert emu.stats.requests_for(run) == {"create": 1, "get": 1}
        assert not any(r.streamed for r in emu.stats.upstream_requests(run))
        assert outcomes(emu) == [200]
        assert await d.core.store.last_push(run) is not None
        assert (await d.core.store.get_report(run) or "").strip()
    assert d.finished == [run]


async def test_a_plan_turn_and_its_approved_run_are_each_finished_by_their_delivery(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    emu.webhooks.configure({"copies": 2})  # each delivery twice: the plan is announced once, the report once
    async with deployment(settings_for) as d:
        research = d.core.research
        job = await research.start(
            "tides [emulator:plan_seconds=0.2][emulator:research_seconds=0.3]", origin=MCP, plan_first=True
        )
        plan_id = job.interaction_id

        async def awaiting() -> bool:
            return (await research.get(plan_id, viewer=MCP)).awaiting_approval

        await until(awaiting, what="the plan, pushed")
        await until(lambda: len(outcomes(emu)) >= 2, what="both copies of the plan's delivery")
        planning = emu.stats.upstream_requests(plan_id)
        assert [r.kind for r in planning] == ["create", "get"] and not any(r.streamed for r in planning)
        assert (await research.get(plan_id, viewer=MCP)).plan

        running = await research.approve(plan_id, viewer=MCP)
        assert running.run_id
        await until(lambda: plan_id in d.finished, what="the approved run, pushed")
        await until(lambda: len(outcomes(emu)) >= 4, what="both copies of the run's delivery")
        run = emu.stats.upstream_requests(running.run_id)
        assert [r.kind for r in run] == ["create", "get"] and not any(r.streamed for r in run)
        done = await research.get(plan_id, viewer=MCP)
        assert done.status == "completed" and (await d.core.store.get_report(plan_id) or "").strip()
    assert outcomes(emu) == [200, 200, 200, 200]
    assert d.planned == [plan_id] and d.finished == [plan_id]


async def test_duplicate_deliveries_finish_the_run_once(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    emu.webhooks.configure({"copies": 3})
    async with deployment(settings_for) as d:
        run = await d.run("tides")
        await until(lambda: len(outcomes(emu)) >= 3, what="three deliveries")
    assert outcomes(emu) == [200, 200, 200]  # a duplicate is acknowledged, not acted on
    assert d.finished == [run]
    assert emu.stats.requests_for(run) == {"create": 1, "get": 1}


async def test_a_late_delivery_still_finishes_the_run_when_it_comes(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    emu.webhooks.configure({"delay_seconds": 1.5})
    async with deployment(settings_for) as d:
        job = await d.core.research.start("tides", origin=MCP)
        await anyio.sleep(1.2)  # the run ended at Gemini (0.5 s); no delivery yet, so nothing was fetched
        assert emu.stats.requests_for(job.interaction_id) == {"create": 1}
        run = job.interaction_id
        await until(lambda: run in d.finished, what="the late delivery")
    assert d.finished == [run] and emu.stats.requests_for(run) == {"create": 1, "get": 1}


async def test_deliveries_out_of_order_finish_each_run_once(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    emu.webhooks.configure({"reverse_batch": 2})
    async with deployment(settings_for) as d:
        first = await d.core.research.start("first [emulator:research_seconds=0.2]", origin=MCP)
        second = await d.core.research.start("second [emulator:research_seconds=0.8]", origin=MCP)
        ids = {first.interaction_id, second.interaction_id}
        await until(lambda: set(d.finished) == ids, what="both runs")
        await until(lambda: len(outcomes(emu)) == 2, what="both deliveries logged")
        delivered = [r.interaction_id for r in emu.webhooks.deliveries()]
        assert delivered == [second.interaction_id, first.interaction_id]
    assert sorted(d.finished) == sorted(ids)
    for run in ids:
        assert emu.stats.requests_for(run) == {"create": 1, "get": 1}


async def test_a_missing_delivery_is_made_up_for_by_the_safety_poll(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    emu.webhooks.configure({"drop": True})
    async with deployment(settings_for, webhook_safety_poll_seconds=2.0) as d:
        started = anyio.current_time()
        run = await d.run("tides")
        assert anyio.current_time() - started >= 1.9  # not before the safety poll
    assert outcomes(emu) == [] and d.finished == [run]
    assert emu.stats.requests_for(run) == {"create": 1, "get": 1}


@pytest.mark.parametrize("control", [{"forge": True}, {"timestamp_skew_seconds": 600}])
async def test_forged_and_stale_deliveries_are_refused(
    settings_for: Callable[..., Settings], emu: Emulator, control: dict[str, Any]
) -> None:
    emu.config.webhook_attempts, emu.config.webhook_retry_seconds = 2, 0.05
    emu.webhooks.configure(control)
    async with deployment(settings_for, webhook_safety_poll_seconds=2.0) as d:
        run = await d.run("tides")
        assert outcomes(emu) == [401, 401]  # refused, and retried like any failed delivery
        assert await d.core.store.last_push(run) is None  # nothing recorded for it
    assert d.finished == [run]  # the safety poll finished it


async def test_deliveries_for_runs_we_do_not_know_are_acknowledged_and_ignored(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    async with deployment(settings_for) as d:
        answer = await d.core.ask("hello", caller=MCP)  # an interaction, but no research run of ours
        await until(lambda: outcomes(emu), what="a delivery")
        assert outcomes(emu) == [200]
        assert await d.core.store.get_job(answer.interaction_id or "") is None
    assert d.finished == []


async def test_a_run_pushed_before_it_shows_as_ended_is_looked_at_again_soon(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    emu.webhooks.configure({"drop": True})  # only the early delivery below comes
    async with deployment(settings_for) as d:
        job = await d.core.research.start("tides [emulator:research_seconds=2.0]", origin=MCP)
        body = json.dumps(
            {"type": "interaction.completed", "version": "v1", "data": {"id": job.interaction_id}}
        )
        stamp = datetime.now(UTC)
        secret = d.core.settings.webhook_secrets()[0]
        headers = {
            "webhook-id": "msg_early",
            "webhook-timestamp": str(int(stamp.timestamp())),
            "webhook-signature": Webhook(secret).sign("msg_early", stamp, body),
        }
        async with httpx.AsyncClient() as http:
            assert (await http.post(d.url, content=body, headers=headers)).json()["outcome"] == "marked"
        await until(lambda: job.interaction_id in d.finished, timeout=10, what="the run, soon after its end")
    gets = emu.stats.requests_for(job.interaction_id)["get"]
    assert 2 <= gets <= 4  # the early look, then rechecks 1 s and 3 s later; not the 60 s safety poll
