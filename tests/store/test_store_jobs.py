"""Jobs: create, read, list (newest first, filters), update, finish exactly once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from server.core.domain import GeneratedImage
from server.core.errors import ConflictError, ResearchNotFound
from server.core.store import Store

from .helpers import T0, make_job, race

pytestmark = pytest.mark.anyio


async def test_create_and_get_round_trip(store: Store) -> None:
    job = make_job("int-1", source="slack", owner="U1", team_id="T1", channel_id="C1", thread_ts="1.0")
    job.image_paths = ["/data/images/a.png"]
    await store.create_job(job)
    got = await store.get_job("int-1")
    assert got is not None
    assert got.origin == job.origin
    assert (got.prompt, got.agent, got.status) == (job.prompt, job.agent, "in_progress")
    assert got.image_paths == ["/data/images/a.png"]
    assert got.created_at == T0
    assert got.updated_at is not None and got.updated_at.tzinfo is not None
    assert got.finished_at is None
    assert await store.get_job("nope") is None


async def test_create_fills_timestamps_in_utc(store: Store) -> None:
    job = make_job("int-1")
    job.created_at = None
    before = datetime.now(UTC)
    await store.create_job(job)
    got = await store.get_job("int-1")
    assert got is not None and got.created_at is not None
    assert got.created_at.tzinfo == UTC
    assert before <= got.created_at <= datetime.now(UTC)


async def test_create_existing_id_raises(store: Store) -> None:
    await store.create_job(make_job("int-1"))
    with pytest.raises(ConflictError, match="int-1"):
        await store.create_job(make_job("int-1"))


async def test_list_newest_first_with_filters(store: Store) -> None:
    await store.create_job(make_job("a", minutes=1, owner="U1", source="slack", team_id="T1"))
    await store.create_job(make_job("b", minutes=3, owner="U2", source="slack", team_id="T1"))
    await store.create_job(make_job("c", minutes=2, owner="U1", source="mcp"))
    await store.create_job(make_job("d", minutes=4, owner="U1", source="slack", team_id="T2"))
    await store.finish_job("d", "completed")

    assert [j.interaction_id for j in await store.list_jobs()] == ["d", "b", "c", "a"]
    assert [j.interaction_id for j in await store.list_jobs(owner="U1")] == ["d", "c", "a"]
    assert [j.interaction_id for j in await store.list_jobs(team_id="T1")] == ["b", "a"]
    assert [j.interaction_id for j in await store.list_jobs(source="mcp")] == ["c"]
    assert [j.interaction_id for j in await store.list_jobs(status="completed")] == ["d"]
    assert [j.interaction_id for j in await store.list_jobs(status=["in_progress"], owner="U1")] == ["c", "a"]
    assert [j.interaction_id for j in await store.list_jobs(limit=2)] == ["d", "b"]
    assert await store.list_jobs(owner="nobody") == []


async def test_update_job_sets_fields_and_updated_at(store: Store) -> None:
    await store.create_job(make_job("int-1"))
    job = await store.update_job(
        "int-1", progress="Reading sources", last_event_id="ev-7", message_ts="1700000000.000200"
    )
    assert (job.progress, job.last_event_id, job.origin.message_ts) == (
        "Reading sources",
        "ev-7",
        "1700000000.000200",
    )
    assert job.updated_at is not None and job.created_at is not None and job.updated_at > job.created_at
    job = await store.update_job("int-1", image_paths=["x.png", "y.png"], report_path="/r.md")
    assert job.image_paths == ["x.png", "y.png"] and job.report_path == "/r.md"
    assert job.progress == "Reading sources"
    assert await store.get_job("int-1") == job


async def test_update_job_refuses_unknown_fields_and_ids(store: Store) -> None:
    await store.create_job(make_job("int-1"))
    with pytest.raises(TypeError, match="lease_owner"):
        await store.update_job("int-1", lease_owner="me")
    with pytest.raises(ResearchNotFound):
        await store.update_job("missing", progress="x")


async def test_finish_job_once(store: Store) -> None:
    await store.create_job(make_job("int-1"))
    assert await store.finish_job("int-1", "completed", report_path="/r.md", image_paths=["i.png"])
    assert not await store.finish_job("int-1", "failed", error="late")
    job = await store.get_job("int-1")
    assert job is not None
    assert (job.status, job.report_path, job.image_paths, job.error) == (
        "completed",
        "/r.md",
        ["i.png"],
        None,
    )
    assert job.terminal and job.finished_at is not None and job.finished_at.tzinfo == UTC
    assert not await store.finish_job("missing", "completed")
    with pytest.raises(ValueError, match="terminal"):
        await store.finish_job("int-1", "in_progress")


async def test_the_report_and_its_images_are_stored_with_the_finish(store: Store) -> None:
    """Any replica can serve them; a second finish (which does nothing) adds nothing either."""
    charts = [GeneratedImage(b"\x89PNG first", "image/png"), GeneratedImage(b"\xff\xd8 second", "image/jpeg")]
    await store.create_job(make_job("int-1"))
    assert await store.get_report_images("int-1") == []
    assert await store.finish_job("int-1", "completed", report="# Report", images=charts)
    assert not await store.finish_job("int-1", "completed", report="# Other", images=charts[:1])
    assert await store.get_report("int-1") == "# Report"
    assert await store.get_report_images("int-1") == charts


async def test_finish_job_fires_once_under_concurrent_callers(
    store: Store, open_store: Callable[[], Awaitable[Store]]
) -> None:
    other = await open_store()
    await store.create_job(make_job("int-1"))
    statuses = ["completed", "failed", "cancelled", "timed_out"] * 3
    stores = [store, other]
    results = await race(
        *(
            (lambda s=stores[i % 2], st=st: s.finish_job("int-1", st, error=f"by {st}"))
            for i, st in enumerate(statuses)
        )
    )
    assert results.count(True) == 1
    winner = statuses[results.index(True)]
    job = await other.get_job("int-1")
    assert job is not None and job.status == winner and job.error == f"by {winner}"


async def test_unfinished_jobs(store: Store) -> None:
    for i, name in enumerate(["a", "b", "c"]):
        await store.create_job(make_job(name, minutes=i))
    await store.finish_job("b", "cancelled")
    assert [j.interaction_id for j in await store.unfinished_jobs()] == ["a", "c"]
