"""Text models: answers that prove what arrived, server-side history, store=false, timeline views."""

from __future__ import annotations

import base64
import json

import jsonschema
import pytest
from google import genai
from google.genai import _interactions

from server.emulator import Emulator

pytestmark = pytest.mark.anyio
MODEL = "gemini-3.8-flash"


async def test_text_answer_repeats_prompt_and_reports_usage(client: genai.Client) -> None:
    it = await client.aio.interactions.create(model=MODEL, input="Hello there")
    assert it.id.startswith("v1_") and len(it.id) == 25
    assert it.status == "completed"
    assert it.created and it.created.endswith("Z") and "T" in it.created
    assert 'You said: "Hello there"' in it.output_text
    assert "This is the first turn of this conversation." in it.output_text
    assert f"Answered by {MODEL}." in it.output_text
    assert [s.type for s in it.steps] == ["thought", "model_output"]  # POST: generated steps only
    assert it.steps[0].summary and "Hello there" in it.steps[0].summary[0].text
    usage = it.usage
    assert usage.total_input_tokens > 0 and usage.total_output_tokens > 10
    assert usage.total_tokens == (
        usage.total_input_tokens
        + usage.total_output_tokens
        + usage.total_thought_tokens
        + usage.total_tool_use_tokens
        + 0
    )


async def test_history_via_previous_interaction_id(client: genai.Client) -> None:
    first = await client.aio.interactions.create(model=MODEL, input="My name is Ada")
    second = await client.aio.interactions.create(
        model=MODEL, input="What is my name?", previous_interaction_id=first.id
    )
    assert "This conversation has 1 earlier turn; it began with: 'My name is Ada'" in second.output_text
    third = await client.aio.interactions.create(
        model=MODEL, input="And again?", previous_interaction_id=second.id
    )
    assert "This conversation has 2 earlier turns; it began with: 'My name is Ada'" in third.output_text
    assert third.previous_interaction_id == second.id


async def test_system_instruction_and_tools_are_reported(client: genai.Client) -> None:
    it = await client.aio.interactions.create(
        model=MODEL,
        input="Who won the 2022 world cup? See https://example.org/wc",
        system_instruction="Answer in one line.",
        tools=[{"type": "google_search"}, {"type": "url_context"}, {"type": "code_execution"}],
    )
    text = it.output_text
    assert 'System instruction: "Answer in one line."' in text
    assert "Tools requested: google_search, url_context, code_execution" in text
    assert "Read https://example.org/wc (status: success)" in text
    assert "Code execution printed: 8" in text
    types = [s.type for s in it.steps]
    assert types[:1] == ["thought"] and types[-1] == "model_output"
    for pair in (
        ["google_search_call", "google_search_result"],
        ["url_context_call", "url_context_result"],
        ["code_execution_call", "code_execution_result"],
    ):
        i = types.index(pair[0])
        assert types[i + 1] == pair[1]
        assert it.steps[i + 1].call_id == it.steps[i].id
    item = it.steps[-1].content[0]
    (citation,) = item.annotations  # type: ignore[misc]  # Optional in the SDK's model: None fails here
    assert citation.type == "url_citation" and citation.url.startswith("https://example.com/")
    assert item.text[citation.start_index : citation.end_index].startswith("Web search:")
    assert it.system_instruction == "Answer in one line."  # request config is echoed


async def test_get_returns_timeline_and_include_input(client: genai.Client) -> None:
    created = await client.aio.interactions.create(model=MODEL, input="Timeline please")
    got = await client.aio.interactions.get(created.id)
    assert [s.type for s in got.steps] == ["user_input", "thought", "model_output"]
    assert got.steps[0].content[0].text == "Timeline please"
    assert got.input is None
    with_input = await client.aio.interactions.get(created.id, include_input=True)
    assert with_input.input == "Timeline please"
    assert with_input.output_text == created.output_text


async def test_store_false_disables_get_previous_and_background(client: genai.Client) -> None:
    it = await client.aio.interactions.create(model=MODEL, input="Forget me", store=False)
    assert 'You said: "Forget me"' in it.output_text
    with pytest.raises(_interactions.NotFoundError) as err:
        await client.aio.interactions.get(it.id)
    assert err.value.body["error"]["status"] == "NOT_FOUND"
    with pytest.raises(_interactions.NotFoundError):
        await client.aio.interactions.create(model=MODEL, input="Continue", previous_interaction_id=it.id)
    with pytest.raises(_interactions.BadRequestError) as bad:
        await client.aio.interactions.create(model=MODEL, input="x", store=False, background=True)
    assert bad.value.body["error"]["status"] == "INVALID_ARGUMENT"


async def test_delete_forgets_and_404s_with_envelope(client: genai.Client) -> None:
    it = await client.aio.interactions.create(model=MODEL, input="short-lived")
    assert await client.aio.interactions.delete(it.id) is None
    with pytest.raises(_interactions.NotFoundError) as err:
        await client.aio.interactions.get(it.id)
    assert err.value.status_code == 404
    assert err.value.body == {
        "error": {"code": 404, "message": f"Interaction {it.id} not found.", "status": "NOT_FOUND"}
    }
    with pytest.raises(_interactions.NotFoundError):
        await client.aio.interactions.create(model=MODEL, input="again", previous_interaction_id=it.id)


async def test_multimodal_parts_are_acknowledged(client: genai.Client) -> None:
    png, pdf, wav = b"\x89PNG\r\n\x1a\n" + b"\0" * 1226, b"%PDF-1.4 " + b"x" * 4991, b"RIFF" + b"\0" * 796
    parts = [
        {"type": "text", "text": "Describe these"},
        {"type": "image", "data": base64.b64encode(png).decode(), "mime_type": "image/png"},
        {"type": "document", "data": base64.b64encode(pdf).decode(), "mime_type": "application/pdf"},
        {"type": "audio", "data": base64.b64encode(wav).decode(), "mime_type": "audio/wav"},
    ]
    it = await client.aio.interactions.create(model=MODEL, input=parts)
    text = it.output_text
    assert 'You said: "Describe these"' in text
    assert "Received image/png (1234 bytes)" in text
    assert "Received application/pdf (5000 bytes)" in text
    assert "Received audio/wav (800 bytes)" in text
    modalities = {m.modality for m in it.usage.input_tokens_by_modality}
    assert {"text", "image", "document", "audio"} <= modalities
    # the same parts as an explicit user_input step
    step_it = await client.aio.interactions.create(
        model=MODEL, input=[{"type": "user_input", "content": parts}]
    )
    assert "Received image/png (1234 bytes)" in step_it.output_text


async def test_json_response_format_matches_schema(client: genai.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "population": {"type": "integer", "minimum": 1000},
            "score": {"type": "number", "maximum": 10},
            "kind": {"type": "string", "enum": ["capital", "town"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "location": {
                "type": "object",
                "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                "required": ["lat", "lon"],
            },
        },
        "required": ["city", "population", "kind", "tags", "location"],
    }
    it = await client.aio.interactions.create(
        model=MODEL,
        input="Tell me about Paris",
        response_format={"type": "text", "mime_type": "application/json", "schema": schema},
    )
    value = json.loads(it.output_text)
    jsonschema.validate(value, schema)
    assert value["kind"] == "capital" and len(value["tags"]) == 2
    assert "Tell me about Paris" in value["city"]


async def test_any_version_prefix_is_served(emulator_server: object, emu: Emulator) -> None:
    from .conftest import make_client

    beta = make_client(emulator_server.url, api_version="v1beta")  # type: ignore[attr-defined]  # the handle, typed loosely
    try:
        it = await beta.aio.interactions.create(model=MODEL, input="via v1beta")
        assert (await beta.aio.interactions.get(it.id)).status == "completed"
    finally:
        await beta.aio.aclose()
    assert emu.stats.requests_for(it.id) == {"create": 1, "get": 1}


async def test_background_text_model_runs_as_a_job(client: genai.Client, emu: Emulator) -> None:
    emu.config.text_delay_seconds = 0.2
    it = await client.aio.interactions.create(model=MODEL, input="slowly", background=True)
    assert it.status == "in_progress" and it.steps == []
    from .helpers import wait_terminal

    done = await wait_terminal(client, it.id)
    assert done.status == "completed" and 'You said: "slowly"' in done.output_text
    record = emu.stats.completion(it.id)
    assert record is not None and record.background and record.duration >= 0.2
