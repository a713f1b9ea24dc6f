"""Webhook deliveries in the store: taken once per webhook-id across replicas, each a mark on the run it names
(also when it arrives before the run is recorded), found by the lease holder, and forgotten after a while."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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
    assert results.count("marked") == 1 and results.count("duplicate") == 11
    assert await other.last_push("v1_run") is not None


async def test_what_a_delivery_finds(store: Store) -> None:
    await store.create_job(make_job("v1_done"))
    await store.finish_job("v1_done", "completed")
    assert await store.record_webhook("msg_a", "interaction.completed", "v1_done") == "finished"
    assert await store.record_webhook("msg_b", "interaction.completed", "v1_elsewhere") == "unknown"
    assert await store.record_webhook("msg_c", "batch.succeeded", None) == "unknown"
    assert await store.last_push("v1_nothing") is None


async def test_a_delivery_before_the_run_is_recorded_is_still_its_mark(store: Store) -> None:
    assert await store.record_webhook("msg_early", "interaction.completed", "v1_early") == "unknown"
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
    assert await store.record_webhook("msg_new", "interaction.completed", "v1_x") == "duplicate"
    assert await store.prune_webhooks(3600) == 0
