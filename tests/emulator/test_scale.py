"""Many concurrent background jobs: asyncio tasks only (no thread per job), all finish on time."""

from __future__ import annotations

import threading
import time

import aiohttp
import anyio
import pytest

from server.emulator import Emulator, EmulatorHandle

pytestmark = pytest.mark.anyio
JOBS = 300


async def test_hundreds_of_concurrent_research_jobs(emulator_server: EmulatorHandle, emu: Emulator) -> None:
    emu.config.research_seconds = 1.0
    threads_before = threading.active_count()
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(
        emulator_server.url, headers={"x-goog-api-key": "k"}, connector=connector
    ) as http:

        async def create(i: int) -> str:
            body = {
                "agent": "deep-research-preview-04-2026",
                "input": f"Research topic {i}",
                "background": True,
            }
            async with http.post("/v1/interactions", json=body) as response:
                assert response.status == 200
                return str((await response.json())["id"])

        started = time.monotonic()
        with anyio.fail_after(20):
            ids: list[str] = []

            async def add(i: int) -> None:
                ids.append(await create(i))

            async with anyio.create_task_group() as tg:
                for i in range(JOBS):
                    tg.start_soon(add, i)
            assert emu.running_jobs() > JOBS // 2  # they run concurrently
            assert threading.active_count() <= threads_before + 2  # no thread per job
            for _ in range(200):
                if len(emu.stats.completions) >= JOBS:
                    break
                await anyio.sleep(0.1)
        elapsed = time.monotonic() - started
    completions = emu.stats.completions
    assert {completions[i].status for i in ids} == {"completed"}
    assert elapsed < 8, elapsed
    assert max(c.duration for c in completions.values()) < 5
