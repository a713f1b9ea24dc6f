"""Deep Research through the core against the emulator: streams, cuts, hangs, deadlines, cancels, scale."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio
import pytest

from server.core import Core, errors
from server.core.domain import Origin, ResearchJob
from server.emulator import Emulator

pytestmark = pytest.mark.anyio

MCP = Origin(source="mcp")
FAST = "[emulator:research_seconds=0.5]"
CoreFactory = Callable[..., AbstractAsyncContextManager[Core]]


async def wait_terminal(
    core: Core, job_id: str, *, viewer: Origin = MCP, seconds: float = 20.0
) -> ResearchJob:
    with anyio.fail_after(seconds):
        while True:
            job = await core.research.get(job_id, viewer=viewer)
            if job.terminal:
                return job
            await anyio.sleep(0.05)


async def test_job_completes_through_the_stream_with_few_requests(
    core_for: CoreFactory, emu: Emulator
) -> None:
    async with core_for() as core:
        finished: list[str] = []

        async def listen() -> None:
            async with core.research.events() as events:
                async for event in events:
                    if event.kind == "finished":
                        finished.append(event.job.interaction_id)

        async with anyio.create_task_group() as tg:
            tg.start_soon(listen)
            await anyio.sleep(0.1)
            job = await core.research.start(f"TPU market {FAST}", origin=MCP)
            assert job.status == "in_progress"
            done = await wait_terminal(core, job.interaction_id)
            await anyio.sleep(0.3)
            tg.cancel_scope.cancel()

    assert done.status == "completed"
    assert finished == [job.interaction_id]
    report = await anyio.Path(done.report_path or "").read_text()
    assert len(report) > 5000 and "## Sources" in report
    assert done.finished_at is not None and done.progress
    per_kind = emu.stats.requests_for(job.interaction_id)
    assert sum(per_kind.values()) <= 4, per_kind
    assert per_kind.get("stream", 0) >= 1


async def test_silently_cut_stream_still_completes(core_for: CoreFactory, emu: Emulator) -> None:
    emu.faults.cut_stream(after_events=3, count=None)
    async with core_for() as core:
        job = await core.research.start(f"cut {FAST}", origin=MCP)
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "completed"
    assert len(core.research.read_report(done)) > 5000


async def test_hanging_stream_still_completes(core_for: CoreFactory, emu: Emulator) -> None:
    emu.faults.hang_stream(after_events=2, count=None)
    async with core_for(stream_read_timeout_seconds=0.5) as core:
        job = await core.research.start(f"hang {FAST}", origin=MCP)
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "completed"


async def test_transient_404_after_create_is_tolerated(core_for: CoreFactory, emu: Emulator) -> None:
    emu.faults.transient_404(1.0)
    async with core_for() as core:
        job = await core.research.start(f"fresh {FAST}", origin=MCP)
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "completed"


async def test_deadline_cancels_upstream_and_times_out(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for(research_deadline_seconds=1.0) as core:
        job = await core.research.start("forever [emulator:stuck]", origin=MCP)
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "timed_out"
    assert "cancelled upstream" in (done.error or "")
    assert job.interaction_id in [c.interaction_id for c in emu.stats.cancels]


async def test_failed_run_is_recorded_with_what_to_do(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        job = await core.research.start(f"doomed [emulator:fail] {FAST}", origin=MCP)
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "failed"
    assert done.error


async def test_cancel_by_owner_only(core_for: CoreFactory, emu: Emulator) -> None:
    alice = Origin(source="slack", owner="slack:T1:UALICE", team_id="T1", channel_id="C1", thread_ts="1.0")
    bob = Origin(source="slack", owner="slack:T1:UBOB", team_id="T1")
    mallory = Origin(source="slack", owner="slack:T2:UALICE", team_id="T2")
    async with core_for() as core:
        job = await core.research.start("long [emulator:research_seconds=30]", origin=alice)
        with pytest.raises(errors.Forbidden):
            await core.research.cancel(job.interaction_id, viewer=bob)
        with pytest.raises(errors.ResearchNotFound):
            await core.research.get(job.interaction_id, viewer=mallory)
        with pytest.raises(errors.ResearchNotFound):
            await core.research.get(job.interaction_id, viewer=MCP)
        cancelled = await core.research.cancel(job.interaction_id, viewer=alice)
        assert cancelled.status == "cancelled"
        again = await core.research.cancel(job.interaction_id, viewer=alice)
        assert again.status == "cancelled"
        assert [j.interaction_id for j in await core.research.list(viewer=alice)] == [job.interaction_id]
        assert await core.research.list(viewer=bob) == []
    assert [c.interaction_id for c in emu.stats.cancels] == [job.interaction_id]


async def test_failed_create_leaves_no_job(core_for: CoreFactory, emu: Emulator) -> None:
    emu.faults.server_error(503, kind="create")
    async with core_for() as core:
        with pytest.raises(errors.UpstreamUnavailable, match="Try again"):
            await core.research.start("nothing", origin=MCP)
        assert await core.research.list(viewer=MCP) == []
    assert emu.stats.by_kind.get("create", 0) == 1  # never retried: a retry could start a second billed run


async def test_unfinished_job_resumes_in_a_new_process(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        job = await core.research.start("survive [emulator:research_seconds=1.5]", origin=MCP)
    async with core_for() as core:
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "completed"
    assert emu.stats.by_kind.get("create", 0) == 1


async def test_hundred_concurrent_jobs_complete(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        jobs: list[ResearchJob] = []

        async def start(n: int) -> None:
            jobs.append(await core.research.start(f"topic {n} [emulator:research_seconds=1]", origin=MCP))

        async with anyio.create_task_group() as tg:
            for n in range(100):
                tg.start_soon(start, n)
        with anyio.fail_after(60):
            while True:
                listed = await core.research.list(viewer=MCP, limit=200)
                if len(listed) == 100 and all(j.terminal for j in listed):
                    break
                await anyio.sleep(0.2)
    assert {j.status for j in listed} == {"completed"}
    assert {j.interaction_id for j in listed} == {j.interaction_id for j in jobs}


async def test_another_replica_serves_the_report_and_its_charts(
    core_for: CoreFactory, tmp_path: Path
) -> None:
    """Two processes on one database, each with its own data dir: B reads what A's run produced."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}"
    async with core_for(data_dir=tmp_path / "a", database_url=database) as a:
        job = await a.research.start(f"charts {FAST} [emulator:chart]", origin=MCP)
        done = await wait_terminal(a, job.interaction_id)
        assert done.status == "completed" and len(done.image_paths) == 1
        charts = await a.research.report_images(done)
        report = await anyio.to_thread.run_sync(a.research.read_report, done)
    assert charts[0].data.startswith(b"\x89PNG") and charts[0].mime_type == "image/png"
    for path in [done.report_path or "", *done.image_paths]:
        assert Path(path).is_relative_to(tmp_path / "a")

    async with core_for(data_dir=tmp_path / "b", database_url=database) as b:
        seen = await b.research.get(job.interaction_id, viewer=MCP)
        assert await b.research.report_images(seen) == charts
        assert await anyio.to_thread.run_sync(b.research.read_report, seen) == report
        for path in [seen.report_path or "", *seen.image_paths]:
            await anyio.Path(path).unlink()  # as if a had run on another machine
        assert await b.research.report_images(seen) == charts
        assert await anyio.to_thread.run_sync(b.research.read_report, seen) == report
