"""Leases: exactly one watcher per unfinished job across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from server.core.store import Store

from .helpers import add_jobs, make_job, race

pytestmark = pytest.mark.anyio

OpenStore = Callable[[], Awaitable[Store]]


async def test_each_job_goes_to_exactly_one_of_racing_replicas(store: Store, open_store: OpenStore) -> None:
    ids = await add_jobs(store, 50)
    replicas = [store, await open_store(), await open_store()]
    owners = ["replica-a", "replica-b", "replica-c"]

    async def claim_until_empty(replica: Store, owner: str) -> list[str]:
        got: list[str] = []
        while batch := await replica.claim_jobs(owner, 60, limit=4):
            got.extend(job.interaction_id for job in batch)
            await asyncio.sleep(0)
        return got

    claimed = await race(
        *((lambda r=r, o=o: claim_until_empty(r, o)) for r, o in zip(replicas, owners, strict=True))
    )
    everything = [job_id for batch in claimed for job_id in batch]
    assert sorted(everything) == ids  # all claimed, none twice
    assert await store.claim_jobs("late-comer", 60) == []
    for owner, batch in zip(owners, claimed, strict=True):
        assert await store.renew_leases(owner, 60) == set(batch)


async def test_unlimited_claims_race_without_overlap(store: Store, open_store: OpenStore) -> None:
    ids = await add_jobs(store, 30)
    replicas = [store, await open_store(), await open_store()]
    claimed = await race(*((lambda r=r, i=i: r.claim_jobs(f"owner-{i}", 60)) for i, r in enumerate(replicas)))
    everything = [job.interaction_id for batch in claimed for job in batch]
    assert sorted(everything) == ids


async def test_claim_order_limit_and_skips_finished(store: Store) -> None:
    ids = await add_jobs(store, 5)
    await store.finish_job(ids[0], "completed")
    first = await store.claim_jobs("me", 60, limit=2)
    assert [job.interaction_id for job in first] == ids[1:3]
    rest = await store.claim_jobs("me", 60)
    assert [job.interaction_id for job in rest] == ids[3:]


async def test_expired_lease_is_taken_over(store: Store, open_store: OpenStore) -> None:
    other = await open_store()
    await store.create_job(make_job("int-1"))
    assert [j.interaction_id for j in await store.claim_jobs("old", 0.5)] == ["int-1"]
    assert await other.claim_jobs("new", 60) == []
    assert not await other.claim_job("int-1", "new", 60)
    await asyncio.sleep(0.6)
    assert [j.interaction_id for j in await other.claim_jobs("new", 60)] == ["int-1"]
    assert await store.renew_leases("old", 60) == set()  # the old owner learns it lost the job


async def test_renew_keeps_the_lease(store: Store, open_store: OpenStore) -> None:
    other = await open_store()
    await add_jobs(store, 2)
    assert len(await store.claim_jobs("me", 0.3)) == 2
    assert await store.renew_leases("me", 60) == {"job-000", "job-001"}
    await asyncio.sleep(0.4)
    assert await other.claim_jobs("thief", 60) == []
    await store.finish_job("job-000", "completed")
    assert await store.renew_leases("me", 60) == {"job-001"}  # finished jobs hold no lease


async def test_release_frees_at_once(store: Store, open_store: OpenStore) -> None:
    other = await open_store()
    await add_jobs(store, 3)
    await store.claim_jobs("me", 60)
    await store.release_leases("me", ["job-001"])
    assert [j.interaction_id for j in await other.claim_jobs("you", 60)] == ["job-001"]
    await store.release_leases("me", [])
    assert await store.renew_leases("me", 60) == {"job-000", "job-002"}
    await store.release_leases("me")
    assert {j.interaction_id for j in await other.claim_jobs("you", 60)} == {"job-000", "job-002"}
    await store.release_leases("you", None)
    assert await other.renew_leases("you", 60) == set()


async def test_claim_job_after_create(store: Store, open_store: OpenStore) -> None:
    other = await open_store()
    await store.create_job(make_job("int-1"))
    results = await race(lambda: store.claim_job("int-1", "a", 60), lambda: other.claim_job("int-1", "b", 60))
    assert sorted(results) == [False, True]
    winner = "a" if results[0] else "b"
    assert await store.claim_job("int-1", winner, 60)  # re-claiming your own lease renews it
    await store.finish_job("int-1", "completed")
    assert not await store.claim_job("int-1", winner, 60)
    assert not await store.claim_job("missing", "a", 60)


async def test_steal_all_takes_every_unfinished_job(store: Store) -> None:
    await add_jobs(store, 3)
    await store.claim_jobs("previous-run", 3600)
    await store.finish_job("job-002", "failed")
    assert await store.claim_jobs("this-run", 60) == []
    stolen = await store.claim_jobs("this-run", 60, steal_all=True)
    assert [job.interaction_id for job in stolen] == ["job-000", "job-001"]
    assert await store.renew_leases("previous-run", 60) == set()
