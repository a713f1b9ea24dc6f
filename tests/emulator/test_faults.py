"""Every fault switch, seen through the real SDK the way our code will see it."""

from __future__ import annotations

import time

import anyio
import pytest
from google import genai
from google.genai import _interactions

from server.emulator import Emulator, EmulatorHandle

from .conftest import make_client
from .helpers import collect, wait_terminal

pytestmark = pytest.mark.anyio
MODEL = "gemini-3.8-flash"
AGENT = "deep-research-preview-04-2026"


async def test_429_has_retry_after_and_counts_down(client: genai.Client, emu: Emulator) -> None:
    emu.faults.rate_limit(2, retry_after=3)
    for _ in range(2):
        with pytest.raises(_interactions.RateLimitError) as err:
            await client.aio.interactions.create(model=MODEL, input="hi")
        headers = err.value.response.headers
        assert headers["retry-after"] == "3" and headers["retry-after-ms"] == "3000"
        assert err.value.body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert (await client.aio.interactions.create(model=MODEL, input="hi")).status == "completed"
    assert emu.faults.fired["status"] == 2
    assert emu.stats.by_status[429] == 2


async def test_fault_limited_to_one_kind(client: genai.Client, emu: Emulator) -> None:
    emu.faults.rate_limit(1, kind="get")
    it = await client.aio.interactions.create(model=MODEL, input="hi")  # a create is not hit
    with pytest.raises(_interactions.RateLimitError):
        await client.aio.interactions.get(it.id)
    assert (await client.aio.interactions.get(it.id)).status == "completed"


async def test_default_retries_honour_small_retry_after(
    emulator_server: EmulatorHandle, emu: Emulator
) -> None:
    emu.faults.rate_limit(2, retry_after=0.05)
    retrying = genai.Client(
        api_key="k",
        http_options=genai.types.HttpOptions(base_url=emulator_server.url, timeout=10_000),
    )  # default retry options: 5 attempts
    try:
        started = time.monotonic()
        it = await retrying.aio.interactions.create(model=MODEL, input="after retries")
        assert it.status == "completed" and time.monotonic() - started < 3
    finally:
        await retrying.aio.aclose()
    assert emu.stats.by_kind["create"] == 3


@pytest.mark.parametrize(("status", "name"), [(500, "INTERNAL"), (503, "UNAVAILABLE")])
async def test_server_errors(client: genai.Client, emu: Emulator, status: int, name: str) -> None:
    emu.faults.server_error(status, count=1, kind="create")
    with pytest.raises(_interactions.InternalServerError) as err:
        await client.aio.interactions.create(model=MODEL, input="hi")
    assert err.value.status_code == status and err.value.body["error"]["status"] == name


async def test_silent_stream_cut_ends_iteration_and_job_keeps_running(
    client: genai.Client, emu: Emulator
) -> None:
    emu.faults.cut_stream(after_events=3)
    created = await client.aio.interactions.create(agent=AGENT, input="Research rivers", background=True)
    events = await collect(await client.aio.interactions.get(created.id, stream=True))
    assert len(events) == 3  # ended silently: no exception, no interaction.completed
    assert all(e.event_type != "interaction.completed" for e in events)
    done = await wait_terminal(client, created.id)
    assert done.status == "completed"


async def test_resumed_stream_hangs_after_replay(client: genai.Client, emu: Emulator) -> None:
    created = await client.aio.interactions.create(agent=AGENT, input="Research lakes", background=True)
    await wait_terminal(client, created.id)
    emu.faults.hang_stream(after_events=2)
    stream = await client.aio.interactions.get(
        created.id, stream=True, last_event_id="evt_000001", timeout=0.5
    )
    seen = []
    started = time.monotonic()
    with anyio.fail_after(10), pytest.raises(_interactions.APITimeoutError):
        async for event in stream:
            seen.append(event)
    assert [e.event_id for e in seen] == ["evt_000002", "evt_000003"]
    assert time.monotonic() - started < 5


async def test_transient_404_after_create(client: genai.Client, emu: Emulator) -> None:
    emu.faults.transient_404(0.5)
    created = await client.aio.interactions.create(agent=AGENT, input="Research clouds", background=True)
    with pytest.raises(_interactions.NotFoundError):
        await client.aio.interactions.get(created.id)
    await anyio.sleep(0.6)
    assert (await client.aio.interactions.get(created.id)).id == created.id
    assert emu.faults.fired["transient_404"] == 1


async def test_malformed_json_body(client: genai.Client, emu: Emulator) -> None:
    emu.faults.malformed_json(kind="get")
    it = await client.aio.interactions.create(model=MODEL, input="hi")
    with pytest.raises(_interactions.APIResponseValidationError):
        await client.aio.interactions.get(it.id)


async def test_reset_connection(client: genai.Client, emu: Emulator) -> None:
    emu.faults.reset_connection(kind="create")
    with pytest.raises(_interactions.APIConnectionError) as err:
        await client.aio.interactions.create(model=MODEL, input="hi")
    assert not isinstance(err.value, _interactions.APITimeoutError)
    assert (await client.aio.interactions.create(model=MODEL, input="hi")).status == "completed"


async def test_hang_and_delay(emulator_server: EmulatorHandle, emu: Emulator) -> None:
    quick = make_client(emulator_server.url, timeout_ms=400)
    try:
        emu.faults.hang(kind="create")
        started = time.monotonic()
        with pytest.raises(_interactions.APITimeoutError):
            await quick.aio.interactions.create(model=MODEL, input="hi")
        assert time.monotonic() - started < 3
        emu.faults.delay(0.2, kind="create")
        started = time.monotonic()
        assert (await quick.aio.interactions.create(model=MODEL, input="hi")).status == "completed"
        assert time.monotonic() - started >= 0.2
        emu.faults.delay(1.0, kind="create")
        with pytest.raises(_interactions.APITimeoutError):
            await quick.aio.interactions.create(model=MODEL, input="hi")
    finally:
        await quick.aio.aclose()


async def test_stuck_job_stays_in_progress(client: genai.Client, emu: Emulator) -> None:
    emu.faults.stick_jobs(1)
    stuck = await client.aio.interactions.create(agent=AGENT, input="Research sand", background=True)
    normal = await client.aio.interactions.create(agent=AGENT, input="Research salt", background=True)
    assert (await wait_terminal(client, normal.id)).status == "completed"
    await anyio.sleep(emu.config.research_seconds)
    it = await client.aio.interactions.get(stuck.id)
    assert it.status == "in_progress" and emu.stats.completion(stuck.id) is None
    assert (await client.aio.interactions.cancel(stuck.id)).status == "cancelled"


async def test_fault_for_one_interaction_only(client: genai.Client, emu: Emulator) -> None:
    a = await client.aio.interactions.create(model=MODEL, input="a")
    b = await client.aio.interactions.create(model=MODEL, input="b")
    from server.emulator import FaultRule

    emu.faults.add(FaultRule("status", count=None, status=503, interaction_id=a.id))
    with pytest.raises(_interactions.InternalServerError):
        await client.aio.interactions.get(a.id)
    assert (await client.aio.interactions.get(b.id)).status == "completed"
    with pytest.raises(_interactions.InternalServerError):
        await client.aio.interactions.get(a.id)  # count=None: until cleared
    emu.faults.clear()
    assert (await client.aio.interactions.get(a.id)).status == "completed"


async def test_every_stream_is_cut_after_stream_cut_seconds(client: genai.Client, emu: Emulator) -> None:
    emu.config.research_seconds = 1.0
    emu.config.stream_cut_seconds = 0.3
    created = await client.aio.interactions.create(agent=AGENT, input="Research tides", background=True)
    started = time.monotonic()
    events = await collect(await client.aio.interactions.get(created.id, stream=True))
    assert 0.25 < time.monotonic() - started < 0.9
    assert events and events[-1].event_type != "interaction.completed"
    emu.config.stream_cut_seconds = 0.0
    rest = await collect(
        await client.aio.interactions.get(created.id, stream=True, last_event_id=events[-1].event_id)
    )
    assert rest[-1].event_type == "interaction.completed"
