"""Webhook deliveries in the store: taken once per webhook-id across replicas, each a mark on the run it names
(also when it arrives before the run is recorded), found by the lease holder, and forgotten after a while. A
planned job is marked by its planning turn's deliveries, then only by its approved run's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from server.core.store import Store

from .helpers import make_job, race

pytestmark = pytest.mark.anyio


async def test_a_delivery_is_taken_once_across_replicas(
    store: Store, open_store: Callable[[], Awaitable[Store]]
) -> None:
    await store.create_job(make_job("v1_run"))
    other = await open_store()
    stores = [store, other]
    results = await race(
        *(
            (lambda i=i: stores[i % 2].record_webhook("msg_1", "interaction.completed", "v1_run"))
            for i in range(12)
        )
    )
    assert results.count(("marked", "v1_run")) == 1 and results.count(("duplicate", None)) == 11
    assert await other.last_push("v1_run") is not None


async def test_what_a_delivery_finds(store: Store) -> None:
    await store.create_job(make_job("v1_done"))
    await store.finish_job("v1_done", "completed")
    assert await store.record_webhook("msg_a", "interaction.completed", "v1_done") == ("finished", "v1_done")
    assert await store.record_webhook("msg_b", "interaction.completed", "v1_elsewhere") == ("unknown", None)
    assert await store.record_webhook("msg_c", "batch.succeeded", None) == ("unknown", None)
    assert await store.last_push("v1_nothing") is None


async def test_a_delivery_before_the_run_is_recorded_is_still_its_mark(store: Store) -> None:
    assert await store.record_webhook("msg_early", "interaction.completed", "v1_early") == ("unknown", None)
    await store.create_job(make_job("v1_early"))
    pushed = await store.last_push("v1_early")
    assert pushed is not None and pushed.tzinfo is not None
    assert abs(pushed - datetime.now(UTC)) < timedelta(minutes=1)


async def test_the_lease_holder_finds_its_pushed_runs(store: Store) -> None:
    for name in ("mine", "theirs", "quiet"):
        await store.create_job(make_job(name))
    assert await store.claim_job("mine", "replica-a", 30)
    assert await store.claim_job("quiet", "replica-a", 30)
    assert await store.claim_job("theirs", "replica-b", 30)
    before = datetime.now(UTC) - timedelta(seconds=1)
    await store.record_webhook("msg_1", "interaction.completed", "mine")
    await store.record_webhook("msg_2", "interaction.completed", "theirs")
    pushed = await store.pushed_since("replica-a", before)
    assert list(pushed) == ["mine"] and pushed["mine"] == await store.last_push("mine")
    assert await store.pushed_since("replica-a", datetime.now(UTC) + timedelta(seconds=5)) == {}
    await store.finish_job("mine", "completed")
    assert await store.pushed_since("replica-a", before) == {}


async def test_old_deliveries_are_forgotten(store: Store) -> None:
    await store.record_webhook("msg_old", "interaction.completed", "v1_x")
    await asyncio.sleep(0.6)
    await store.record_webhook("msg_new", "interaction.completed", "v1_x")
    assert await store.prune_webhooks(0.3) == 1
    assert await store.record_webhook("msg_new", "interaction.completed", "v1_x") == ("duplicate", None)
    assert await store.prune_webhooks(3600) == 0


async def test_a_planned_job_is_marked_by_its_planning_turn_then_by_its_run_alone(store: Store) -> None:
    await store.create_job(replace(make_job("plan_1"), plan_first=True))
    assert await store.claim_job("plan_1", "replica-a", 30)
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert await store.record_webhook("msg_plan", "interaction.completed", "plan_1") == ("marked", "plan_1")
    assert await store.last_push("plan_1") is not None
    await store.plan_ready("plan_1", "1. Look things up")
    assert await store.approve_job("plan_1", "replica-a", 30) is not None
    # The approved run's delivery may come before its id is recorded: kept, and the job's mark once it is.
    assert await store.record_webhook("msg_run_early", "interaction.completed", "run_1") == ("unknown", None)
    assert await store.set_run("plan_1", "run_1")
    early = await store.last_push("plan_1")
    assert early is not None and await store.pushed_since("replica-a", before) == {"plan_1": early}
    # The planning turn's news is old now: a late copy of it marks nothing.
    assert await store.record_webhook("msg_plan_late", "interaction.completed", "plan_1") == (
        "finished",
        "plan_1",
    )
    assert await store.last_push("plan_1") == early
    assert await store.record_webhook("msg_run", "interaction.completed", "run_1") == ("marked", "plan_1")
    latest = await store.last_push("plan_1")
    assert latest is not None and latest > early
    assert await store.pushed_since("replica-a", before) == {"plan_1": latest}
