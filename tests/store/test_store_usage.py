"""Usage records, totals and the limits' counters, on SQLite and PostgreSQL, with two replicas at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from server.core import Cost, Costs, LimitReached, Settings, Store, Usage, UsageRecord

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 12, 6, 21, 30, tzinfo=UTC)


def record(
    iid: str, *, owner: str | None = "alice", usd: str | None = "0.25", at: datetime = NOW, **kw: Any
) -> UsageRecord:
    return UsageRecord(
        interaction_id=iid,
        kind=kw.pop("kind", "answer"),
        usage=Usage(input_tokens=100, output_tokens=40, thought_tokens=10, total_tokens=150),
        cost=Cost(None if usd is None else Decimal(usd), "test"),
        at=at,
        model="gemini-3.8-flash",
        owner=owner,
        source=kw.pop("source", "mcp"),
        team_id=kw.pop("team_id", None),
    )


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def costs_on(store: Store, clock: Clock, **settings: Any) -> Costs:
    async def opened() -> Store:
        return store

    return Costs(Settings(data_dir="/tmp/unused", **settings), opened, clock=clock)


async def test_a_call_is_recorded_once_and_its_cost_counts_toward_the_month(store: Store) -> None:
    assert await store.add_usage(record("v1_a", usd="0.25"))
    assert not await store.add_usage(record("v1_a", usd="0.25"))  # a second replica finishing the same run
    assert await store.add_usage(record("v1_b", usd=None))  # unknown price: kept, not counted
    assert await store.add_usage(record("v1_old", usd="5", at=NOW - timedelta(days=10)))  # November
    assert await store.month_spend(NOW) == 250_000
    assert await store.month_spend(NOW - timedelta(days=10)) == 5_000_000

    got = await store.usage_of(["v1_a", "v1_b", "v1_missing"])
    assert set(got) == {"v1_a", "v1_b"}
    assert got["v1_a"].cost.usd == Decimal("0.25") and got["v1_b"].cost.usd is None
    assert got["v1_a"].usage == record("v1_a").usage and got["v1_a"].at == NOW


async def test_totals_per_person_and_per_day(store: Store) -> None:
    await store.add_usage(record("v1_1", owner="alice", usd="0.10"))
    await store.add_usage(record("v1_2", owner="alice", usd="0.30", kind="research"))
    await store.add_usage(record("v1_3", owner="bob", usd="1.00", at=NOW - timedelta(days=1)))
    await store.add_usage(record("v1_4", owner="bob", usd=None))
    await store.add_usage(record("v1_5", owner="carol", usd="9", source="slack", team_id="T1"))
    since, until = datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)

    people = await store.usage_totals("owner", source="mcp", since=since, until=until)
    assert [(t.key, t.calls, t.research_runs, t.cost_usd, t.unpriced_calls) for t in people] == [
        ("bob", 2, 0, Decimal("1"), 1),
        ("alice", 2, 1, Decimal("0.4"), 0),
    ]
    assert people[1].input_tokens == 200 and people[1].output_tokens == 100  # thought tokens are output

    days = await store.usage_totals("day", since=since, until=until)
    assert [(t.key, t.calls, t.cost_usd) for t in days] == [
        ("2026-12-05", 1, Decimal("1")),
        ("2026-12-06", 4, Decimal("9.4")),
    ]
    team = await store.usage_totals("owner", team_id="T1", since=since, until=until)
    assert [(t.key, t.cost_usd) for t in team] == [("carol", Decimal("9"))]


async def test_counters_stop_at_their_limit_across_replicas(
    open_store: Callable[[], Awaitable[Store]],
) -> None:
    replicas = [await open_store(), await open_store()]
    results = await asyncio.wait_for(
        asyncio.gather(
            *(replicas[i % 2].take_count("research_starts", "alice", "2026-12-06", 5) for i in range(16))
        ),
        60,
    )
    assert sorted(r for r in results if r is not None) == [1, 2, 3, 4, 5]
    assert results.count(None) == 11
    await replicas[1].give_back_count("research_starts", "alice", "2026-12-06")
    assert await replicas[0].take_count("research_starts", "alice", "2026-12-06", 5) == 5
    # A new day starts from zero and forgets the old one.
    assert await replicas[0].take_count("research_starts", "alice", "2026-12-07", 5) == 1
    assert await replicas[1].count("research_starts", "alice", "2026-12-06") == 0


async def test_the_daily_research_limit_refuses_says_why_and_resets(
    open_store: Callable[[], Awaitable[Store]],
) -> None:
    clock = Clock(NOW)
    one, two = await open_store(), await open_store()
    limits = [costs_on(s, clock, research_per_day=3).limits for s in (one, two)]

    taken = await asyncio.gather(
        *(limits[i % 2].take_research_start("alice") for i in range(6)), return_exceptions=True
    )
    refused = [r for r in taken if isinstance(r, LimitReached)]
    assert len(refused) == 3 and all(not isinstance(r, BaseException) for r in taken if r not in refused)
    message = str(refused[0])
    assert "GEMINI_INTERACTIONS_RESEARCH_PER_DAY=3" in message
    assert "2026-12-07 00:00 UTC (in 2 h 30 min)" in message and "keep going" in message
    assert refused[0].resets_at == datetime(2026, 12, 7, tzinfo=UTC)
    assert await limits[0].research_refusal("alice") is not None
    assert await limits[0].take_research_start("bob") is not None  # per owner

    clock.now = datetime(2026, 12, 7, 0, 0, 1, tzinfo=UTC)
    assert await limits[1].research_refusal("alice") is None
    assert await limits[1].take_research_start("alice") is not None


async def test_a_start_that_failed_gives_its_slot_back(store: Store) -> None:
    limits = costs_on(store, Clock(NOW), research_per_day=1).limits
    taken = await limits.take_research_start(None)  # stdio: the one local owner
    await limits.give_back(taken)
    assert await limits.take_research_start(None) is not None
    with pytest.raises(LimitReached):
        await limits.take_research_start(None)


async def test_zero_turns_research_off(store: Store) -> None:
    limits = costs_on(store, Clock(NOW), research_per_day=0).limits
    with pytest.raises(LimitReached) as caught:
        await limits.take_research_start("alice")
    assert "turned off" in str(caught.value) and caught.value.resets_at is None


async def test_the_monthly_budget_refuses_new_calls_until_next_month(
    open_store: Callable[[], Awaitable[Store]],
) -> None:
    clock = Clock(NOW)
    one, two = await open_store(), await open_store()
    limits = costs_on(two, clock, monthly_budget_usd="1.00").limits
    await one.add_usage(record("v1_a", usd="0.60"))
    await limits.check_budget()  # $0.60 of $1.00
    await one.add_usage(record("v1_b", usd="0.40", owner="bob"))  # another replica spends the rest

    with pytest.raises(LimitReached) as caught:
        await limits.check_budget()
    message = str(caught.value)
    assert "$1.00 of $1.00 spent in December 2026" in message
    assert "GEMINI_INTERACTIONS_MONTHLY_BUDGET_USD" in message and "2027-01-01 at 00:00 UTC" in message
    refusal = await limits.research_refusal("carol")
    assert refusal is not None and refusal.limit == "GEMINI_INTERACTIONS_MONTHLY_BUDGET_USD"
    with pytest.raises(LimitReached):
        await limits.take_research_start("carol")

    clock.now = datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)
    await limits.check_budget()
    assert await limits.take_research_start("carol") is None  # no daily limit set: nothing counted
