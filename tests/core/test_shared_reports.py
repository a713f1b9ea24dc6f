"""Replicas on separate hosts share the database, not the data dir: any replica can read any report."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from server.core import Core, Settings
from server.core.domain import Origin

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

MCP = Origin(source="mcp")


async def test_a_replica_without_the_report_file_reads_it_from_the_database(
    settings_for: Callable[..., Settings], pg_url: str, tmp_path: Path
) -> None:
    async with Core.running(settings_for(data_dir=tmp_path / "a", database_url=pg_url), replica_id="a") as a:
        job = await a.research.start("shared reports [emulator:research_seconds=0.3]", origin=MCP)
        with anyio.fail_after(20):
            while True:
                if (await a.research.get(job.interaction_id, viewer=MCP)).terminal:
                    break
                await anyio.sleep(0.05)
    shutil.rmtree(tmp_path / "a")  # the host of the replica that finished it is gone

    async with Core.running(settings_for(data_dir=tmp_path / "b", database_url=pg_url), replica_id="b") as b:
        await b.ready()
        done = await b.research.get(job.interaction_id, viewer=MCP)
        assert done.status == "completed" and done.report_path
        assert not await anyio.Path(done.report_path).exists()
        stored = await b.store.get_report(job.interaction_id)
        assert stored and len(stored) > 1000
        # Both ways the front doors call it off the event loop: an AnyIO worker thread and asyncio's.
        assert await anyio.to_thread.run_sync(b.research.read_report, done) == stored
        assert await asyncio.to_thread(b.research.read_report, done) == stored
        assert b.research.read_report(done) == ""  # on the loop itself it must not block: file only
