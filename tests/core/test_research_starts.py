"""A research start never leaves a paid run untracked: the intent is written before Gemini is asked, a start
the database cannot track is refused or cancelled upstream, and a start whose outcome is unknown is listed to its
owner as ``start_unknown``. The database is stalled for real (another connection holds SQLite's write lock)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from server.core import START_UNKNOWN, Core, NotReady, RateLimited, StartUnknown, errors
from server.core.domain import Origin, ResearchJob, StartIntent
from server.emulator import Emulator

pytestmark = pytest.mark.anyio

OWNER = Origin(source="mcp", owner="token:alice")
FAST = "[emulator:research_seconds=0.5]"
CoreFactory = Callable[..., AbstractAsyncContextManager[Core]]


def _database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "gemini-interactions.sqlite3"


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Hold the SQLite file's write lock, as a stalled writer would: our writes wait (busy timeout)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def _intents(path: Path) -> int:
    with sqlite3.connect(path, timeout=5) as conn:
        return int(conn.execute("SELECT count(*) FROM research_starts").fetchone()[0])


async def _until(check: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    with anyio.fail_after(seconds):
        while True:
            if check():
                return
            await anyio.sleep(0.02)


async def test_a_start_is_recorded_under_geminis_id_and_leaves_no_intent(
    core_for: CoreFactory, emu: Emulator, tmp_path: Path
) -> None:
    async with core_for() as core:
        job = await core.research.start(f"Tides {FAST}", origin=OWNER)
        assert job.interaction_id.startswith("v1_")
        assert _intents(_database(tmp_path)) == 0
        assert [j.interaction_id for j in await core.research.list(viewer=OWNER)] == [job.interaction_id]


async def test_a_refused_create_leaves_no_trace(core_for: CoreFactory, emu: Emulator, tmp_path: Path) -> None:
    emu.faults.rate_limit(1, kind="create")
    async with core_for() as core:
        with pytest.raises(RateLimited):
            await core.research.start("Tides", origin=OWNER)
        await _until(lambda: _intents(_database(tmp_path)) == 0, "the intent to be forgotten")
        assert await core.research.list(viewer=OWNER) == []


async def test_a_create_without_an_answer_is_listed_as_start_unknown(
    core_for: CoreFactory, emu: Emulator
) -> None:
    emu.faults.hang(1, kind="create")
    async with core_for(request_timeout_seconds=1.0) as core:
        with pytest.raises(StartUnknown) as raised:
            await core.research.start("Tides of the Severn", origin=OWNER)
        message = str(raised.value)
        assert "did not answer in time" in message and "aistudio.google.com/usage" in message
        job = await core.research.get(raised.value.job_id, viewer=OWNER)
        assert (job.status, job.prompt) == (START_UNKNOWN, "Tides of the Severn")
        assert job.terminal and job.error and "may have started" in job.error
        assert [j.interaction_id for j in await core.research.list(viewer=OWNER)] == [job.interaction_id]
        assert await core.research.list(viewer=Origin(source="mcp", owner="token:bob")) == []


async def test_a_start_whose_intent_cannot_be_written_is_refused_and_sends_nothing(
    core_for: CoreFactory, emu: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="server.core.research")
    database = _database(tmp_path)
    async with core_for(research_record_seconds=0.5) as core:
        with write_lock(database):
            with pytest.raises(NotReady, match="Nothing was sent to Gemini"):
                await core.research.start("Tides", origin=OWNER)
        assert emu.stats.by_kind["create"] == 0
        # The intent lands once the lock is gone, and is forgotten at once: no start_unknown for a start
        # that its caller was told did not happen.
        await _until(lambda: "finished after its deadline" in caplog.text, "the late intent write")
        await _until(lambda: _intents(database) == 0, "the late intent to be forgotten")
        assert await core.research.list(viewer=OWNER) == []


async def test_a_run_that_cannot_be_recorded_in_time_is_cancelled_upstream(
    core_for: CoreFactory, emu: Emulator, tmp_path: Path
) -> None:
    database = _database(tmp_path)
    emu.faults.delay(3.0, kind="create")  # room to stall the database between the intent and the record
    async with core_for(research_record_seconds=1.0) as core:
        outcome: list[BaseException] = []

        async def start() -> None:
            try:  # a long run: still going when it is cancelled
                await core.research.start("Tides [emulator:research_seconds=60]", origin=OWNER)
            except errors.GeminiInteractionsError as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(start)
            await _until(lambda: _intents(database) == 1, "the intent")
            with write_lock(database):
                await _until(lambda: bool(outcome), "the caller to be told", seconds=30)
        [refused] = outcome
        assert "could not be recorded" in str(refused) and "cancelled" in str(refused), refused
        [cancel] = emu.stats.cancels
        # The record lands after all once the database answers again: the run shows as cancelled, never as
        # an untracked run, and no intent is left to turn into start_unknown.
        with anyio.fail_after(30):
            while True:
                jobs = await core.research.list(viewer=OWNER)
                if jobs and jobs[0].terminal:
                    break
                await anyio.sleep(0.05)
    assert [(j.interaction_id, j.status) for j in jobs] == [(cancel.interaction_id, "cancelled")]
    assert _intents(database) == 0


async def test_a_restart_lists_a_start_cut_short_as_start_unknown(
    core_for: CoreFactory, emu: Emulator, tmp_path: Path
) -> None:
    """A lone SQLite process that starts finds its predecessor's intent: that start was cut short."""
    async with core_for() as core:  # a process that died between its intent and its record left this
        begun = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
        await core.store.add_start(StartIntent("start-dead", "Tides", "agent", OWNER, "dead-replica", begun))
    async with core_for() as core:
        [job] = await core.research.list(viewer=OWNER)
        assert (job.interaction_id, job.status, job.created_at) == ("start-dead", START_UNKNOWN, begun)
        assert job.error and "AI Studio" in job.error
        assert await core.research.list(viewer=OWNER, status=START_UNKNOWN) == [job]
        assert (await core.research.cancel("start-dead", viewer=OWNER)).status == START_UNKNOWN


# -- a planned job's approved run: its approval is the intent, the same rules hold --------------------------------

PLANNED = "[emulator:plan_seconds=0.1]"


async def _job_until(core: Core, job_id: str, check: Callable[[ResearchJob], bool]) -> ResearchJob:
    with anyio.fail_after(30):
        while True:
            job = await core.research.get(job_id, viewer=OWNER)
            if check(job):
                return job
            await anyio.sleep(0.05)


async def _awaiting_plan(core: Core, prompt: str) -> str:
    job = await core.research.start(f"{prompt} {PLANNED}", origin=OWNER, plan_first=True)
    await _job_until(core, job.interaction_id, lambda j: j.status == "awaiting_approval")
    return job.interaction_id


async def test_an_approved_run_without_an_answer_is_start_unknown_not_a_plan_to_approve_again(
    core_for: CoreFactory, emu: Emulator
) -> None:
    async with core_for(request_timeout_seconds=1.0) as core:
        plan_id = await _awaiting_plan(core, "Tides")
        creates = emu.stats.by_kind["create"]
        emu.faults.hang(1, kind="create")
        with pytest.raises(StartUnknown) as raised:
            await core.research.approve(plan_id, viewer=OWNER)
        assert raised.value.job_id == plan_id and "aistudio.google.com/usage" in str(raised.value)
        job = await core.research.get(plan_id, viewer=OWNER)
        assert job.status == START_UNKNOWN and job.error and "may have started" in job.error
        # Approving again would risk a second billed run: the plan can no longer run.
        with pytest.raises(errors.NotAwaitingApproval):
            await core.research.approve(plan_id, viewer=OWNER)
        assert emu.stats.by_kind["create"] == creates + 1


async def test_an_approved_run_that_cannot_be_recorded_in_time_is_cancelled_upstream(
    core_for: CoreFactory, emu: Emulator, tmp_path: Path
) -> None:
    database = _database(tmp_path)
    async with core_for(research_record_seconds=1.0) as core:
        plan_id = await _awaiting_plan(core, "Tides [emulator:research_seconds=60]")
        emu.faults.delay(3.0, kind="create")  # room to stall the database between the approval and the record
        outcome: list[BaseException] = []

        async def approve() -> None:
            try:
                await core.research.approve(plan_id, viewer=OWNER)
            except errors.GeminiInteractionsError as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(approve)
            await _job_until(core, plan_id, lambda j: j.approved_at is not None)
            with write_lock(database):
                await _until(lambda: bool(outcome), "the caller to be told", seconds=30)
        [refused] = outcome
        assert "could not be recorded" in str(refused) and "cancelled" in str(refused), refused
        [cancel] = emu.stats.cancels
        assert cancel.interaction_id != plan_id  # the run, not the plan
        # Once the database answers, whichever late write lands first settles it: the approval undone (the
        # plan waits again) or the run recorded (and followed to its cancellation). Never start_unknown: we
        # know the run was cancelled.
        job = await _job_until(core, plan_id, lambda j: j.status != "in_progress")
        if job.run_id is None:
            assert job.status == "awaiting_approval", job
        else:
            assert (job.run_id, job.status) == (cancel.interaction_id, "cancelled"), job
