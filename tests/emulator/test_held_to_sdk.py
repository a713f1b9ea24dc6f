"""The emulator held to the installed SDK: known ids from its lists, image models from an explicit list, routed
and retired ids, request fields and enums the SDK defines, and continuation hops the SDK's own automatic
continuation follows."""

from __future__ import annotations

import base64

import httpx
import pytest
from google import genai
from google.genai import _interactions

from server.emulator import Emulator, EmulatorHandle
from tests.emulator.helpers import collect, wait_terminal

pytestmark = pytest.mark.anyio
AGENT = "deep-research-preview-04-2026"


async def _post(handle: EmulatorHandle, body: dict[str, object]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=handle.url, headers={"x-goog-api-key": "k"}, timeout=10) as http:
        return await http.post("/v1/interactions", json=body)


async def test_unknown_model_and_agent_ids_get_googles_404(
    client: genai.Client, emulator_server: EmulatorHandle, emu: Emulator
) -> None:
    response = await _post(emulator_server, {"model": "gemini-0-retired", "input": "hi"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert (
        error["code"] == 404
        and error["status"] == "NOT_FOUND"
        and "models/gemini-0-retired" in error["message"]
    )
    for agent in ("deep-research-typo", "deep-research-pro-preview-12-2025"):  # unknown; listed but shut down
        with pytest.raises(_interactions.NotFoundError, match=agent):
            await client.aio.interactions.create(agent=agent, input="x", background=True)
    emu.config.extra_models = ["gemini-test-only"]
    it = await client.aio.interactions.create(model="gemini-test-only", input="hi")
    assert it.status == "completed" and "Answered by gemini-test-only." in it.output_text


async def test_image_models_come_from_a_list_not_a_substring(client: genai.Client, emu: Emulator) -> None:
    drawn = await client.aio.interactions.create(model="nano-banana-pro-preview", input="a fox")
    assert drawn.output_image is not None and drawn.output_image.data
    emu.config.extra_models = ["my-image-lookalike"]
    text = await client.aio.interactions.create(model="my-image-lookalike", input="a fox")
    assert text.output_image is None and 'You said: "a fox"' in text.output_text


async def test_a_deprecated_model_is_served_by_its_successor(client: genai.Client) -> None:
    it = await client.aio.interactions.create(model="gemini-3.5-flash", input="hi")
    assert it.model == "gemini-3.6-flash" and "Answered by gemini-3.6-flash." in it.output_text


async def test_fields_and_values_the_sdk_does_not_define_are_refused(emulator_server: EmulatorHandle) -> None:
    flac = base64.b64encode(b"fLaC" + b"\x00" * 40).decode()
    cases = [
        ({"model": "gemini-flash-latest", "input": "x", "thinking": "low"}, 'Unknown name "thinking"'),
        (
            {"model": "gemini-flash-latest", "input": "x", "generation_config": {"thinking_level": "max"}},
            "thinking_level",
        ),
        (
            {
                "model": "gemini-flash-latest",
                "input": [{"type": "audio", "data": flac, "mime_type": "audio/x-flac"}],
            },
            "audio/x-flac",
        ),
    ]
    for body, words in cases:
        response = await _post(emulator_server, body)
        assert response.status_code == 400 and words in response.json()["error"]["message"], response.text


async def test_the_sdks_automatic_continuation_gets_the_whole_answer(
    client: genai.Client, emu: Emulator
) -> None:
    whole = await client.aio.interactions.create(model="gemini-flash-latest", input="Explain tides")
    emu.config.continuation_chars = len(whole.output_text) // 3 + 1
    merged = await client.aio.interactions.create(model="gemini-flash-latest", input="Explain tides")
    assert merged.status == "completed" and merged.output_text == whole.output_text
    assert len(merged.continuation_ids) == 3 and merged.id == merged.continuation_ids[-1]
    hops = [await client.aio.interactions.get(i) for i in merged.continuation_ids]
    assert [h.status for h in hops] == ["requires_continuation", "requires_continuation", "completed"]
    assert merged.usage.total_output_tokens == sum(h.usage.total_output_tokens for h in hops)  # type: ignore[misc]  # the SDK's counts are Optional

    events = await collect(
        await client.aio.interactions.create(model="gemini-flash-latest", input="Explain tides", stream=True)
    )
    streamed = "".join(
        e.delta.text for e in events if e.event_type == "step.delta" and e.delta.type == "text"
    )
    assert streamed == whole.output_text
    assert sum(1 for e in events if e.event_type == "interaction.completed") == 3


async def test_continuation_tokens_are_checked(emulator_server: EmulatorHandle, client: genai.Client) -> None:
    with pytest.warns(UserWarning, match="requires_continuation"):  # the SDK warns: we stop on purpose
        first = await client.aio.interactions.create(
            model="gemini-flash-latest", input="x [emulator:hops=2]", automatic_continuation=False
        )
    assert first.status == "requires_continuation" and first.continuation_token
    other = await client.aio.interactions.create(model="gemini-flash-latest", input="other")
    base = {"model": "gemini-flash-latest", "continuation_token": first.continuation_token}
    for body, words in [
        ({**base, "previous_interaction_id": other.id}, f"issued by interaction {first.id}"),
        ({**base, "previous_interaction_id": first.id, "input": "again"}, "'input' must be empty"),
        (
            {**base, "continuation_token": "ct_forged", "previous_interaction_id": first.id},
            "unknown or expired",
        ),
    ]:
        response = await _post(emulator_server, body)
        assert response.status_code == 400 and words in response.json()["error"]["message"], response.text
    good = await _post(emulator_server, {**base, "previous_interaction_id": first.id})
    assert good.status_code == 200 and good.json()["status"] == "completed"


async def test_research_statuses_queued_idle_and_requires_action(client: genai.Client) -> None:
    queued = await client.aio.interactions.create(
        agent=AGENT, input="x [emulator:start_status=queued][emulator:research_seconds=2]", background=True
    )
    seen = {(await client.aio.interactions.get(queued.id)).status for _ in range(3)}
    assert "queued" in seen
    waiting = await client.aio.interactions.create(
        agent=AGENT, input="x [emulator:requires_action][emulator:research_seconds=0.2]", background=True
    )
    ended = await wait_terminal(client, waiting.id, statuses={"requires_action"})
    assert ended.status == "requires_action"
