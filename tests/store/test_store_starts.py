"""Research starts: the intent before the create, the record that replaces it, and the intents a crash left
behind turned into ``start_unknown`` jobs exactly once, whichever replica looks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from server.core.domain import START_UNKNOWN, Origin, StartIntent
from server.core.errors import ConflictError
from server.core.store import PendingStart, Store

from .helpers import T0, make_job, race

pytestmark = pytest.mark.anyio

SLACK = Origin(source="slack", owner="U1", team_id="T1", channel_id="C1", thread_ts="1.0", message_ts="1.0")


def intent(key: str, *, minutes: int = 0, origin: Origin = SLACK) -> StartIntent:
    return StartIntent(
        key=key,
        prompt=f"topic of {key}",
        agent="deep-research-preview-04-2026",
        origin=origin,
        replica_id="replica-a",
        created_at=T0 + timedelta(minutes=minutes),
    )


async def test_a_recorded_start_leaves_the_job_and_its_deliveries_and_no_intent(store: Store) -> None:
    await store.add_start(intent("start-1"))
    job = make_job("v1_run", owner="U1")
    await store.record_start("start-1", job, destinations=["slack:T1:C1:1.0"])
    assert (await store.get_job("v1_run")) is not None
    assert await store.get_delivery("v1_run", "slack:T1:C1:1.0") is not None
    assert await store.abandon_starts("cut short") == []  # nothing left to abandon
    with pytest.raises(ConflictError):  # one run, one record
        await store.record_start("start-1", job)


async def test_a_dropped_start_leaves_nothing(store: Store) -> None:
    await store.add_start(intent("start-1"))
    await store.drop_start("start-1")
    await store.drop_start("start-1")  # idempotent
    assert await store.abandon_starts("cut short") == []
    assert await store.list_jobs() == []


async def test_abandoned_starts_become_start_unknown_jobs_for_their_owner(store: Store) -> None:
    mcp = Origin(source="mcp", owner="token:alice")
    await store.add_start(intent("start-old", minutes=0, origin=mcp))
    await store.add_start(intent("start-new", minutes=10))

    # Only those begun before the cut-off: a younger one may still be under way in another replica.
    [old] = await store.abandon_starts("check your usage", before=T0 + timedelta(minutes=5))
    assert (old.interaction_id, old.status, old.error) == ("start-old", START_UNKNOWN, "check your usage")
    stored = await store.get_job("start-old")
    assert stored is not None and stored.terminal
    assert (stored.prompt, stored.origin, stored.created_at) == ("topic of start-old", mcp, T0)
    assert [j.interaction_id for j in await store.list_jobs(owner="token:alice")] == ["start-old"]

    # A start_unknown job is never watched, and no report is delivered for it.
    assert await store.claim_jobs("replica-b", 30.0, steal_all=True) == []
    assert await store.finish_job("start-old", "completed") is False

    [new] = await store.abandon_starts("check your usage", key="start-new")
    assert new.origin == SLACK
    assert await store.abandon_starts("check your usage") == []


async def test_replicas_abandoning_together_turn_each_start_once(
    open_store: Callable[[], Awaitable[Store]],
) -> None:
    replicas = [await open_store() for _ in range(3)]
    for n in range(5):
        await replicas[0].add_start(intent(f"start-{n}", minutes=n))
    results = await race(*(lambda s=s: s.abandon_starts("cut short") for s in replicas))
    assert sorted(job.interaction_id for turned in results for job in turned) == [
        f"start-{n}" for n in range(5)
    ]
    assert len(await replicas[1].list_jobs(status=START_UNKNOWN)) == 5


async def test_a_slack_start_whose_run_is_start_unknown_is_still_reported(store: Store) -> None:
    """The Slack sweep tells the user of a start cut short: a start_unknown job is no recorded run."""
    await store.add_pending_start(PendingStart("T1", "C1", "1.0", "U1", "topic", T0))
    await store.add_start(intent("start-1"))
    await store.abandon_starts("cut short")
    assert [p.message_ts for p in await store.stale_pending_starts(0)] == ["1.0"]
