"""A replica whose lease renewals stall stops watching its jobs before another replica may take them.

The far end that misbehaves is the network to the database: replica A reaches PostgreSQL through a relay that
the test stalls, so A's renewals hang while its Gemini stream is fine. Once A's lease has expired, replica B takes
the job; the emulator's per-replica stream records show whether A was still watching at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from sqlalchemy.engine import make_url

from server.core import Core, Settings
from server.core.domain import Origin
from server.emulator import Emulator

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

LEASE = 1.0


class StallingRelay:
    """A TCP relay on 127.0.0.1 to one port; while stalled, bytes wait in it (a network that stopped moving)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> StallingRelay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._flowing.set()
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        finally:
            with contextlib.suppress(OSError):
                sink.close()


async def wait_for(check: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
    deadline = anyio.current_time() + seconds
    while True:
        if check():
            return
        if anyio.current_time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await anyio.sleep(0.05)


async def test_a_replica_that_cannot_renew_stops_watching_before_another_takes_over(
    settings_for: Callable[..., Settings], emu: Emulator, pg_url: str, tmp_path: Path
) -> None:
    url = make_url(pg_url)
    async with StallingRelay(url.port or 5432) as relay:
        through_relay = url.set(port=relay.port).render_as_string(hide_password=False)
        settings_a = settings_for(data_dir=tmp_path / "a", database_url=through_relay, lease_seconds=LEASE)
        settings_b = settings_for(data_dir=tmp_path / "b", database_url=pg_url, lease_seconds=LEASE)
        async with Core.running(settings_a, replica_id="replica-a") as a:
            job = await a.research.start("fenced [emulator:research_seconds=4]", origin=Origin(source="mcp"))
            records = emu.stats.upstream_requests
            await wait_for(lambda: any(r.streamed for r in records(job.interaction_id)), "A's stream")
            async with Core.running(settings_b, replica_id="replica-b") as b:
                await b.ready()
                relay.stall()  # A can no longer renew its lease; its stream to Gemini is unaffected
                try:
                    await wait_for(
                        lambda: "replica-b" in emu.stats.replicas_for(job.interaction_id),
                        "B taking the job over",
                    )
                finally:
                    relay.resume()
                with anyio.fail_after(20):
                    while True:
                        done = await b.store.get_job(job.interaction_id)
                        if done is not None and done.terminal:
                            break
                        await anyio.sleep(0.05)

    assert done.status == "completed"
    streams = [r for r in emu.stats.upstream_requests(job.interaction_id) if r.streamed]
    assert [r.replica for r in streams][:2] == ["replica-a", "replica-b"], streams
    assert emu.stats.replica_overlaps(job.interaction_id) == [], streams
