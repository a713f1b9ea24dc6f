"""SSE streams: event order and ids, deltas that rebuild the answer, resume with last_event_id, tailing."""

from __future__ import annotations

import anyio
import pytest
from google import genai

from server.emulator import Emulator

from .helpers import collect, report_text

pytestmark = pytest.mark.anyio
MODEL = "gemini-3.8-flash"
AGENT = "deep-research-preview-04-2026"


def ids(events: list) -> list[str]:
    return [e.event_id for e in events if e.event_id]


async def test_streamed_text_answer(client: genai.Client) -> None:
    stream = await client.aio.interactions.create(model=MODEL, input="Count to three", stream=True)
    events = await collect(stream)
    types = [e.event_type for e in events]
    assert types[:2] == ["interaction.created", "interaction.status_update"]
    assert types[-2:] == ["interaction.status_update", "interaction.completed"]
    assert ids(events) == [f"evt_{n:06d}" for n in range(1, len(events) + 1)]
    created = events[0].interaction
    assert created.status == "in_progress" and created.model == MODEL and created.id.startswith("v1_")
    completed = events[-1].interaction
    assert completed.status == "completed" and completed.usage.total_tokens > 0 and not completed.steps
    text = "".join(e.delta.text for e in events if e.event_type == "step.delta" and e.delta.type == "text")
    summaries = [
        e.delta for e in events if e.event_type == "step.delta" and e.delta.type == "thought_summary"
    ]
    assert summaries and "Count to three" in summaries[0].content.text
    assert sum(1 for t in types if t == "step.delta") > 3  # the answer arrives in pieces
    stored = await client.aio.interactions.get(created.id)
    assert stored.output_text == text and 'You said: "Count to three"' in text
    starts = [e for e in events if e.event_type == "step.start"]
    assert [s.index for s in starts] == [0, 1] and starts[1].step.type == "model_output"


async def test_streamed_image_carries_an_image_delta(client: genai.Client) -> None:
    stream = await client.aio.interactions.create(model="gemini-3.1-flash-image", input="a boat", stream=True)
    events = await collect(stream)
    images = [e.delta for e in events if e.event_type == "step.delta" and e.delta.type == "image"]
    assert len(images) == 1 and images[0].mime_type == "image/png" and images[0].data.startswith("iVBOR")


async def test_resume_replays_only_later_events_then_tails(client: genai.Client, emu: Emulator) -> None:
    emu.config.research_seconds = 0.6
    created = await client.aio.interactions.create(agent=AGENT, input="Research kites", background=True)
    first = await client.aio.interactions.get(created.id, stream=True)
    head = []
    with anyio.fail_after(10):
        async for event in first:
            head.append(event)
            if len(head) == 4:
                break
    await first.close()
    last_id = head[-1].event_id
    assert last_id == "evt_000004"
    resumed = await client.aio.interactions.get(created.id, stream=True, last_event_id=last_id)
    rest = await collect(resumed)
    assert rest[0].event_id == "evt_000005"
    assert ids(head) + ids(rest) == [f"evt_{n:06d}" for n in range(1, len(head) + len(rest) + 1)]
    assert rest[-1].event_type == "interaction.completed" and rest[-1].interaction.status == "completed"
    assert emu.stats.requests_for(created.id)["stream"] == 2
    final = await client.aio.interactions.get(created.id)
    report = "".join(e.delta.text for e in rest if e.event_type == "step.delta" and e.delta.type == "text")
    assert report == report_text(final)


async def test_resume_after_completion_replays_the_tail(client: genai.Client) -> None:
    stream = await client.aio.interactions.create(model=MODEL, input="short", stream=True)
    events = await collect(stream)
    interaction_id = events[0].interaction.id
    replay = await collect(
        await client.aio.interactions.get(interaction_id, stream=True, last_event_id=events[-3].event_id)
    )
    assert ids(replay) == ids(events[-2:])


async def test_many_readers_see_the_same_log(client: genai.Client, emu: Emulator) -> None:
    emu.config.research_seconds = 0.4
    created = await client.aio.interactions.create(
        agent=AGENT, input="Research tea", background=True, stream=False
    )
    results: list[list[str]] = []

    async def read() -> None:
        results.append(ids(await collect(await client.aio.interactions.get(created.id, stream=True))))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(read)
    assert len(results) == 5 and all(r == results[0] for r in results) and len(results[0]) > 10


async def test_streamed_agent_create(client: genai.Client) -> None:
    stream = await client.aio.interactions.create(
        agent=AGENT, input="Research owls", background=True, stream=True
    )
    events = await collect(stream)
    assert events[0].interaction.agent == AGENT
    assert events[-1].event_type == "interaction.completed"
    summaries = [e for e in events if e.event_type == "step.delta" and e.delta.type == "thought_summary"]
    assert len(summaries) == 3


async def test_sparse_event_ids_leave_deltas_without_ids(client: genai.Client, emu: Emulator) -> None:
    emu.config.sparse_event_ids = True
    events = await collect(await client.aio.interactions.create(model=MODEL, input="sparse", stream=True))
    assert all(e.event_id is None for e in events if e.event_type == "step.delta")
    assert all(e.event_id for e in events if e.event_type != "step.delta")
    numbers = [int(i[4:]) for i in ids(events)]
    assert numbers == sorted(numbers) and numbers[-1] == len(events)  # ids still count every event


async def test_unknown_last_event_id_is_400(client: genai.Client) -> None:
    it = await client.aio.interactions.create(model=MODEL, input="x")
    from google.genai import _interactions

    with pytest.raises(_interactions.BadRequestError):
        await client.aio.interactions.get(it.id, stream=True, last_event_id="evt_999999")
