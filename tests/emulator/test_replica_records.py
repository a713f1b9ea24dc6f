"""Per-interaction records of who asked: the replica header of every request, and when each stream was open."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest
from google import genai

from server.emulator import REPLICA_HEADER, Emulator, EmulatorHandle

from .conftest import make_client
from .helpers import collect

pytestmark = pytest.mark.anyio
AGENT = "deep-research-preview-04-2026"


def replica_client(url: str, replica: str) -> genai.Client:
    return make_client(url, headers={REPLICA_HEADER: replica})


async def wait_until(check: object, *, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {limit}s: {check}")
        await anyio.sleep(0.02)


async def test_each_request_keeps_its_replica_and_a_stream_its_open_time(
    emulator_server: EmulatorHandle, emu: Emulator
) -> None:
    a, b = replica_client(emulator_server.url, "A"), replica_client(emulator_server.url, "B")
    try:
        created = await a.aio.interactions.create(agent=AGENT, input="Research kites", background=True)
        before = time.monotonic()
        await collect(await a.aio.interactions.get(created.id, stream=True))
        after = time.monotonic()
        await b.aio.interactions.get(created.id)
    finally:
        await a.aio.aclose()
        await b.aio.aclose()

    records = emu.stats.upstream_requests(created.id)
    assert [(r.kind, r.replica, r.streamed) for r in records] == [
        ("create", "A", False),
        ("stream", "A", True),
        ("get", "B", False),
    ]
    stream = records[1]
    assert stream.ended_monotonic is not None and not stream.open
    assert before <= stream.started_monotonic <= stream.ended_monotonic <= after
    # The stream was open while the job ran: from about its start to its completion.
    completion = emu.stats.completion(created.id)
    assert completion is not None and stream.ended_monotonic >= completion.monotonic
    assert all(r.ended_monotonic is not None for r in records)
    assert emu.stats.replicas_for(created.id) == ["A", "B"]
    assert emu.stats.replica_overlaps() == []


async def test_a_stream_ends_when_its_client_goes_away(
    emulator_server: EmulatorHandle, emu: Emulator
) -> None:
    emu.config.research_seconds = 5.0  # still running when the client leaves
    client = replica_client(emulator_server.url, "A")
    try:
        created = await client.aio.interactions.create(agent=AGENT, input="Research owls", background=True)
        stream = await client.aio.interactions.get(created.id, stream=True)
        with anyio.fail_after(5):
            async for _event in stream:
                break
        [_, record] = emu.stats.upstream_requests(created.id)
        assert record.streamed and record.open
        left = time.monotonic()
        await stream.close()
    finally:
        await client.aio.aclose()

    def ended() -> bool:
        return not emu.stats.upstream_requests(created.id)[1].open

    await wait_until(ended)
    record = emu.stats.upstream_requests(created.id)[1]
    assert record.ended_monotonic is not None and record.ended_monotonic - left < 2.0
    assert emu.stats.completion(created.id) is None  # the job itself goes on


async def test_two_replicas_streaming_one_job_at_once_are_an_overlap(
    emulator_server: EmulatorHandle, emu: Emulator
) -> None:
    emu.config.research_seconds = 0.6
    a, b = replica_client(emulator_server.url, "A"), replica_client(emulator_server.url, "B")
    try:
        one = await a.aio.interactions.create(agent=AGENT, input="Research tea", background=True)
        two = await a.aio.interactions.create(agent=AGENT, input="Research rice", background=True)
        # Job one: A and B watch it at the same time. Job two: A, then B once A's stream is over.
        async with anyio.create_task_group() as tg:
            tg.start_soon(collect, await a.aio.interactions.get(one.id, stream=True))
            tg.start_soon(collect, await b.aio.interactions.get(one.id, stream=True))
        await collect(await a.aio.interactions.get(two.id, stream=True))
        await collect(await b.aio.interactions.get(two.id, stream=True))
    finally:
        await a.aio.aclose()
        await b.aio.aclose()

    overlaps = emu.stats.replica_overlaps()
    assert len(overlaps) == 1
    first, second = overlaps[0]
    assert first.interaction_id == one.id and {first.replica, second.replica} == {"A", "B"}
    assert emu.stats.replica_overlaps(two.id) == []
    assert emu.stats.replicas_for(two.id) == ["A", "B"]


async def test_stats_endpoint_shows_the_records_and_reset_forgets_them(
    emulator_server: EmulatorHandle, emu: Emulator
) -> None:
    client = replica_client(emulator_server.url, "replica-7")
    plain = make_client(emulator_server.url)  # no replica header: recorded as None
    try:
        created = await client.aio.interactions.create(agent=AGENT, input="Research maps", background=True)
        await plain.aio.interactions.get(created.id)
    finally:
        await client.aio.aclose()
        await plain.aio.aclose()
    async with httpx.AsyncClient(base_url=emulator_server.url) as http:
        snapshot = (await http.get("/_emulator/stats")).json()
        [create, get] = snapshot["upstream_requests"][created.id]
        assert create["replica"] == "replica-7" and create["kind"] == "create" and not create["streamed"]
        assert get["replica"] is None and get["ended_monotonic"] >= get["started_monotonic"]
        assert create["started_monotonic"] <= snapshot["now_monotonic"]
        await http.post("/_emulator/reset")
        assert (await http.get("/_emulator/stats")).json()["upstream_requests"] == {}
