"""Slack thread memory and event dedupe shared by replicas."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from server.core.store import Store

from .helpers import race

pytestmark = pytest.mark.anyio


async def test_thread_upsert(store: Store) -> None:
    assert await store.get_thread("T1", "C1", "1.0") is None
    await store.set_thread("T1", "C1", "1.0", "int-1")
    await store.set_thread("T1", "C2", "1.0", "int-9")
    assert await store.get_thread("T1", "C1", "1.0") == "int-1"
    await store.set_thread("T1", "C1", "1.0", "int-2")
    assert await store.get_thread("T1", "C1", "1.0") == "int-2"
    assert await store.get_thread("T1", "C2", "1.0") == "int-9"
    assert await store.get_thread("T2", "C1", "1.0") is None


async def test_first_seen_is_true_exactly_once_across_stores(
    store: Store, open_store: Callable[[], Awaitable[Store]]
) -> None:
    other = await open_store()
    stores = [store, other]
    results = await race(*((lambda i=i: stores[i % 2].first_seen("Ev123")) for i in range(20)))
    assert results.count(True) == 1
    assert not await store.first_seen("Ev123") and not await other.first_seen("Ev123")
    assert await other.first_seen("Ev456")
    assert await store.first_seen("k" * 2000)  # no engine-specific length limit


async def test_prune_seen_forgets_old_keys_only(store: Store) -> None:
    assert await store.first_seen("old")
    await asyncio.sleep(0.6)
    assert await store.first_seen("new")
    assert await store.prune_seen(0.3) == 1
    assert await store.first_seen("old")  # forgotten, so seen "first" again
    assert not await store.first_seen("new")
    assert await store.prune_seen(3600) == 0
