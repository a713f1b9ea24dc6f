"""Small helpers shared by the store tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from server.core.domain import Origin, ResearchJob
from server.core.store import Store

T = TypeVar("T")
DEADLINE = 10.0  # seconds: no wait in these tests is unbounded

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_job(interaction_id: str, *, minutes: int = 0, **origin: str | None) -> ResearchJob:
    source = origin.pop("source", None) or "mcp"
    return ResearchJob(
        interaction_id=interaction_id,
        prompt=f"research {interaction_id}",
        agent="deep-research-preview-04-2026",
        origin=Origin(source=source, **origin),  # type: ignore[arg-type]  # tests pass only Origin's fields
        created_at=T0 + timedelta(minutes=minutes),
    )


async def add_jobs(store: Store, count: int, prefix: str = "job") -> list[str]:
    ids = [f"{prefix}-{i:03d}" for i in range(count)]
    for i, job_id in enumerate(ids):
        await store.create_job(make_job(job_id, minutes=i))
    return ids


async def race(*calls: Callable[[], Awaitable[T]]) -> list[T]:
    """Start every call at the same moment; bounded by DEADLINE."""
    go = asyncio.Event()

    async def run(call: Callable[[], Awaitable[T]]) -> T:
        await go.wait()
        return await call()

    tasks = [asyncio.ensure_future(run(call)) for call in calls]
    await asyncio.sleep(0)
    go.set()
    return list(await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE))


async def next_payload(payloads: AsyncIterator[str], timeout: float = DEADLINE) -> str:
    return await asyncio.wait_for(anext(payloads), timeout)
