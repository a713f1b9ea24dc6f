"""Plan-first jobs in the store, on SQLite and PostgreSQL: the plan recorded once, approvals racing across
replicas (exactly one wins), nobody leases a plan awaiting the user, the run's id names the job too, and an
approval undone or overtaken by a cancel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from server.core.domain import ResearchJob
from server.core.store import Store

from .helpers import make_job, race

pytestmark = pytest.mark.anyio

OpenStore = Callable[[], Awaitable[Store]]


def planned(job_id: str) -> ResearchJob:
    return replace(make_job(job_id), plan_first=True)


async def test_a_plan_is_recorded_once_and_is_not_leased(store: Store) -> None:
    await store.create_job(planned("p1"))
    assert [j.interaction_id for j in await store.claim_jobs("watcher", 60)] == ["p1"]
    assert await store.plan_ready("p1", "1. Look things up") is True
    assert await store.plan_ready("p1", "another plan") is False
    job = await store.get_job("p1")
    assert job is not None and job.status == "awaiting_approval" and job.plan == "1. Look things up"
    assert await store.renew_leases("watcher", 60) == set()  # the plan dropped the lease
    assert (
        await store.claim_jobs("other", 60, steal_all=True) == []
    )  # nobody watches a plan awaiting the user
    assert await store.claim_job("p1", "other", 60) is False
    await store.create_job(make_job("plain"))
    assert await store.plan_ready("plain", "no") is False  # not a planned job


async def test_of_approvals_racing_across_replicas_exactly_one_wins(
    store: Store, open_store: OpenStore
) -> None:
    await store.create_job(planned("p2"))
    await store.plan_ready("p2", "the plan")
    replicas = [store, await open_store(), await open_store(), await open_store()]
    results = await race(
        *(
            (lambda r=r, n=n: r.approve_job("p2", f"replica-{n}", 60, changes=f"from {n}"))
            for n, r in enumerate(replicas)
        )
    )
    [winner] = [j for j in results if j is not None]
    assert winner.status == "in_progress" and winner.approved_at is not None
    job = await store.get_job("p2")
    assert job is not None and job.changes == winner.changes
    number = winner.changes.split()[-1] if winner.changes else ""
    assert await store.renew_leases(f"replica-{number}", 60) == {"p2"}  # the winner holds it while starting


async def test_the_run_names_the_job_and_is_recorded_once(store: Store) -> None:
    await store.create_job(planned("p3"))
    await store.plan_ready("p3", "plan")
    assert await store.set_run("p3", "run-early") is False  # not approved yet: no run to record
    await store.approve_job("p3", "me", 60)
    assert await store.set_run("p3", "run-3") is True
    assert await store.set_run("p3", "run-again") is False
    by_run = await store.find_job("run-3")
    by_id = await store.find_job("p3")
    assert by_run is not None and by_id is not None
    assert by_run.interaction_id == by_id.interaction_id == "p3" and by_run.run_id == "run-3"
    assert await store.find_job("nope") is None


async def test_a_refused_run_reopens_the_plan_and_a_cancel_wins_over_a_late_run(store: Store) -> None:
    await store.create_job(planned("p4"))
    await store.plan_ready("p4", "plan")
    await store.approve_job("p4", "me", 60, changes="less history")
    assert await store.reopen_plan("p4") is True
    job = await store.get_job("p4")
    assert (
        job is not None
        and job.status == "awaiting_approval"
        and job.approved_at is None
        and job.changes is None
    )
    assert await store.renew_leases("me", 60) == set()

    await store.approve_job("p4", "me", 60)
    assert await store.finish_job("p4", "cancelled") is True  # cancelled while its run was being started
    assert await store.set_run("p4", "run-4") is False
    assert await store.reopen_plan("p4") is False
    job = await store.get_job("p4")
    assert job is not None and job.status == "cancelled" and job.run_id is None
