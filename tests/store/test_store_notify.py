"""Notifications: listeners get what is published after they subscribed, across processes on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from server.core.store import Store

from .helpers import DEADLINE, next_payload

pytestmark = pytest.mark.anyio


async def test_every_listener_gets_each_later_payload_in_order(store: Store) -> None:
    await store.notify("jobs", "before anyone listened")
    async with store.listen("jobs") as first, store.listen("jobs") as second, store.listen("other") as other:
        for i in range(3):
            await store.notify("jobs", f"p{i}")
        await store.notify("other", "x")
        assert [await next_payload(first) for _ in range(3)] == ["p0", "p1", "p2"]
        assert [await next_payload(second) for _ in range(3)] == ["p0", "p1", "p2"]
        assert await next_payload(other) == "x"


@pytest.mark.postgres
async def test_notify_crosses_store_instances_on_postgres(pg_url: str, anyio_backend: str) -> None:
    publisher, subscriber = await Store.open(pg_url), await Store.open(pg_url)
    try:
        async with subscriber.listen("job-finished") as payloads:
            await publisher.notify("job-finished", "int-1")
            assert await next_payload(payloads) == "int-1"
    finally:
        await publisher.close()
        await subscriber.close()


async def test_slow_listener_does_not_block_notify(store: Store) -> None:
    async with store.listen("busy", maxsize=5) as slow, store.listen("busy") as fast:
        async with asyncio.timeout(DEADLINE):
            for i in range(20):
                await store.notify("busy", str(i))
        assert [await next_payload(fast) for _ in range(20)] == [str(i) for i in range(20)]
        assert [await next_payload(slow) for _ in range(5)] == [str(i) for i in range(15, 20)]
        assert slow.dropped == 15


async def test_listeners_end_when_the_store_closes(open_store: Callable[[], Awaitable[Store]]) -> None:
    store = await open_store()
    async with store.listen("jobs") as payloads:
        await store.close()
        with pytest.raises(StopAsyncIteration):
            await next_payload(payloads)


async def test_bad_channel_and_oversized_payload_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="channel"):
        await store.notify("no spaces", "x")
    with pytest.raises(ValueError, match="payload"):
        await store.notify("ok", "x" * 9000)


@pytest.mark.postgres
async def test_postgres_listener_reconnects_after_its_connection_is_killed(
    pg_url: str, anyio_backend: str
) -> None:
    publisher, subscriber = await Store.open(pg_url), await Store.open(pg_url)
    try:
        async with subscriber.listen("jobs") as payloads:
            listener = subscriber._pg_listener
            assert listener is not None and listener.backend_pid is not None
            await publisher.notify("jobs", "first")
            assert await next_payload(payloads) == "first"
            async with publisher.engine.connect() as conn:
                await conn.exec_driver_sql(f"SELECT pg_terminate_backend({listener.backend_pid})")
            # Payloads sent while it is down are lost; keep publishing until the new connection hears one.
            async with asyncio.timeout(DEADLINE):
                got = None
                while got is None:
                    await publisher.notify("jobs", "after")
                    try:
                        got = await next_payload(payloads, timeout=0.2)
                    except TimeoutError:
                        continue
            assert got == "after"
            assert listener.connections >= 2
    finally:
        await publisher.close()
        await subscriber.close()
