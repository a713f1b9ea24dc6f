"""Deliveries: a finished job's report is claimed by exactly one worker, resumable, retried or given up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from server.core.errors import ConflictError
from server.core.store import Delivery, Store

from .helpers import make_job, race

pytestmark = pytest.mark.anyio

DEST = "slack:T1:C1:1700000000.000100"


async def _finished_job_with_delivery(store: Store, job_id: str = "int-1") -> None:
    await store.create_job(make_job(job_id))
    await store.add_delivery(job_id, DEST)
    await store.finish_job(job_id, "completed", report_path="/r.md")


async def test_add_is_idempotent_and_waits_for_the_job_to_finish(store: Store) -> None:
    await store.create_job(make_job("int-1"))
    await store.add_delivery("int-1", DEST)
    await store.add_delivery("int-1", DEST)
    pending = await store.get_delivery("int-1", DEST)
    assert pending is not None and (pending.state, pending.attempts, pending.progress) == ("pending", 0, {})
    assert await store.due_deliveries() == []  # job still running
    assert await store.claim_delivery("int-1", DEST, "w1", 60) is None
    await store.finish_job("int-1", "completed")
    assert [(d.job_id, d.destination) for d in await store.due_deliveries()] == [("int-1", DEST)]


async def test_a_job_and_its_deliveries_are_stored_together(store: Store) -> None:
    """One transaction: a crash between the two inserts would leave a job whose report nobody delivers."""
    other = "slack:T1:C2:1700000000.000200"
    await store.create_job(make_job("int-1"), destinations=[DEST])
    stored = await store.get_delivery("int-1", DEST)
    assert stored is not None and stored.state == "pending"
    with pytest.raises(ConflictError):
        await store.create_job(make_job("int-1"), destinations=[other])
    assert await store.get_delivery("int-1", other) is None  # rolled back with the failed job insert


async def test_claim_exactly_once_under_concurrency(
    store: Store, open_store: Callable[[], Awaitable[Store]]
) -> None:
    other = await open_store()
    await _finished_job_with_delivery(store)
    stores = [store, other]
    results = await race(
        *((lambda i=i: stores[i % 2].claim_delivery("int-1", DEST, f"w{i}", 60)) for i in range(10))
    )
    winners = [d for d in results if d is not None]
    assert len(winners) == 1
    claimed = winners[0]
    assert isinstance(claimed, Delivery) and claimed.state == "claimed" and claimed.claimed_by is not None
    assert claimed.claim_expires_at is not None and claimed.claim_expires_at.tzinfo is not None
    assert await store.due_deliveries() == []


async def test_expired_claim_is_reclaimed_and_resumes_from_progress(store: Store) -> None:
    await _finished_job_with_delivery(store)
    first = await store.claim_delivery("int-1", DEST, "w1", 0.5)
    assert first is not None
    await store.save_delivery_progress("int-1", DEST, {"posted": ["1700000001.000100"]})
    assert await store.claim_delivery("int-1", DEST, "w2", 60) is None
    await asyncio.sleep(0.6)
    assert [d.claimed_by for d in await store.due_deliveries()] == ["w1"]
    second = await store.claim_delivery("int-1", DEST, "w2", 60)
    assert second is not None and second.claimed_by == "w2"
    assert second.progress == {"posted": ["1700000001.000100"]}
    await store.complete_delivery("int-1", DEST)
    done = await store.get_delivery("int-1", DEST)
    assert done is not None and done.state == "done" and done.progress == {"posted": ["1700000001.000100"]}
    assert await store.claim_delivery("int-1", DEST, "w3", 60) is None
    assert await store.due_deliveries() == []


async def test_fail_non_final_retries_and_final_gives_up(store: Store) -> None:
    await _finished_job_with_delivery(store)
    assert await store.claim_delivery("int-1", DEST, "w1", 60) is not None
    await store.fail_delivery("int-1", DEST, "slack 500", final=False)
    retry = await store.get_delivery("int-1", DEST)
    assert retry is not None
    assert (retry.state, retry.attempts, retry.last_error, retry.claimed_by) == (
        "pending",
        1,
        "slack 500",
        None,
    )
    assert len(await store.due_deliveries()) == 1
    assert await store.claim_delivery("int-1", DEST, "w2", 60) is not None
    await store.fail_delivery("int-1", DEST, "channel_not_found", final=True)
    failed = await store.get_delivery("int-1", DEST)
    assert failed is not None and (failed.state, failed.attempts, failed.last_error) == (
        "failed",
        2,
        "channel_not_found",
    )
    assert await store.claim_delivery("int-1", DEST, "w3", 60) is None
    assert await store.due_deliveries() == []


async def test_due_deliveries_oldest_first_with_limit(store: Store) -> None:
    for i in range(3):
        await _finished_job_with_delivery(store, f"int-{i}")
    due = await store.due_deliveries(limit=2)
    assert [d.job_id for d in due] == ["int-0", "int-1"]
    assert all(d.state == "pending" for d in due)


async def test_only_the_live_claim_is_renewed_and_written(store: Store) -> None:
    """A worker renews before each post and writes only while it holds the claim: once its claim expired and
    another worker took the delivery, nothing it does touches the other's claim or progress."""
    await _finished_job_with_delivery(store)
    first = await store.claim_delivery("int-1", DEST, "w1", 0.5)
    assert first is not None and first.claim_expires_at is not None
    renewed = await store.renew_delivery_claim("int-1", DEST, "w1", 60)
    assert renewed is not None and renewed.claim_expires_at is not None
    assert renewed.claim_expires_at > first.claim_expires_at
    assert await store.renew_delivery_claim("int-1", DEST, "w2", 60) is None  # not w2's claim
    assert await store.save_delivery_progress("int-1", DEST, {"posted": {"0": "1.1"}}, owner="w1")

    assert await store.claim_delivery("int-1", DEST, "w1", 0.3) is None  # still held: a minute to go
    await store.fail_delivery("int-1", DEST, "lost", final=False)  # the operator's reset: unconditional
    assert await store.claim_delivery("int-1", DEST, "w1", 0.3) is not None
    await asyncio.sleep(0.4)
    assert await store.renew_delivery_claim("int-1", DEST, "w1", 60) is None  # expired: no renewal
    assert await store.claim_delivery("int-1", DEST, "w2", 60) is not None
    assert not await store.save_delivery_progress("int-1", DEST, {"posted": {}}, owner="w1")
    assert not await store.fail_delivery("int-1", DEST, "late", final=False, owner="w1")
    assert not await store.complete_delivery("int-1", DEST, owner="w1")
    held = await store.get_delivery("int-1", DEST)
    assert held is not None and (held.state, held.claimed_by, held.progress) == (
        "claimed",
        "w2",
        {"posted": {"0": "1.1"}},
    )
    assert await store.complete_delivery("int-1", DEST, owner="w2")


async def test_a_failed_attempt_can_hold_the_delivery(store: Store) -> None:
    """An attempt cut off mid-post keeps the delivery claimed a while, so nobody looks for the post too soon."""
    await _finished_job_with_delivery(store)
    assert await store.claim_delivery("int-1", DEST, "w1", 60) is not None
    assert await store.fail_delivery("int-1", DEST, "cut off", final=False, owner="w1", hold_seconds=0.5)
    held = await store.get_delivery("int-1", DEST)
    assert held is not None and (held.state, held.claimed_by, held.attempts) == ("claimed", "w1", 1)
    assert await store.claim_delivery("int-1", DEST, "w2", 60) is None
    assert await store.due_deliveries() == []
    await asyncio.sleep(0.6)
    assert await store.claim_delivery("int-1", DEST, "w2", 60) is not None
