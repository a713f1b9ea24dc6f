"""What the emulator sends validates strictly against the SDK's own pydantic models: no field the SDK
does not know, no step, content or event that would parse as an ``Unknown*`` placeholder."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pydantic
import pytest
from google.genai._gaos.errors.createinteraction import CreateInteractionClientErrorData
from google.genai._gaos.types.interactions import Interaction, InteractionSSEEvent

from server.emulator import Emulator, EmulatorHandle

pytestmark = pytest.mark.anyio
EVENT = pydantic.TypeAdapter(InteractionSSEEvent)


def assert_known(value: Any, path: str = "$") -> None:
    """Fail on any ``Unknown*`` variant anywhere in a parsed model."""
    if getattr(value, "is_unknown", False):
        raise AssertionError(
            f"{path} parsed as {type(value).__name__}: {getattr(value, 'raw', None)!r}"[:300]
        )
    if isinstance(value, pydantic.BaseModel):
        for name, field_value in vars(value).items():  # vars(): no deprecation warnings
            assert_known(field_value, f"{path}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_known(item, f"{path}[{i}]")


def strict_interaction(payload: dict[str, Any]) -> Interaction:
    unknown = set(payload) - set(Interaction.model_fields) - {"object"}
    assert not unknown, f"fields the SDK does not know: {unknown}"
    it = Interaction.model_validate(payload)
    assert_known(it)
    return it


def parse_sse(body: str) -> list[dict[str, Any]]:
    events = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        if lines["data"] == "[DONE]":
            assert lines["event"] == "done"
            continue
        data = json.loads(lines["data"])
        assert data["event_type"] == lines["event"]
        events.append(data)
    return events


async def test_every_payload_validates(emulator_server: EmulatorHandle, emu: Emulator) -> None:
    emu.config.research_seconds = 0.1
    headers = {"x-goog-api-key": "k"}
    async with httpx.AsyncClient(base_url=emulator_server.url, headers=headers, timeout=10) as http:
        text = (
            await http.post(
                "/v1/interactions",
                json={
                    "model": "gemini-3.5-flash",
                    "input": [
                        {"type": "text", "text": "hi"},
                        {
                            "type": "image",
                            "data": base64.b64encode(b"x" * 10).decode(),
                            "mime_type": "image/png",
                        },
                    ],
                    "tools": [{"type": "google_search"}, {"type": "url_context"}, {"type": "code_execution"}],
                    "system_instruction": "be brief",
                },
            )
        ).json()
        strict_interaction(text)
        strict_interaction((await http.get(f"/v1/interactions/{text['id']}?include_input=true")).json())
        image = (
            await http.post(
                "/v1/interactions",
                json={
                    "model": "gemini-3.1-flash-image",
                    "input": "a fox",
                    "response_format": [
                        {"type": "text"},
                        {"type": "image", "aspect_ratio": "1:1", "image_size": "512"},
                    ],
                },
            )
        ).json()
        assert strict_interaction(image).output_image is not None
        research = (
            await http.post(
                "/v1/interactions",
                json={
                    "agent": "deep-research-preview-04-2026",
                    "input": "Research x",
                    "background": True,
                    "agent_config": {
                        "type": "deep-research",
                        "thinking_summaries": "auto",
                        "visualization": "auto",
                    },
                },
            )
        ).json()
        strict_interaction(research)
        stream = await http.get(f"/v1/interactions/{research['id']}?stream=true")
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(stream.text)
        for data in events:
            event = EVENT.validate_python(data)
            assert_known(event)
        assert {e["event_type"] for e in events} == {
            "interaction.created",
            "interaction.status_update",
            "step.start",
            "step.delta",
            "step.stop",
            "interaction.completed",
        }
        done = strict_interaction((await http.get(f"/v1/interactions/{research['id']}")).json())
        assert done.status == "completed"
        stuck = (
            await http.post(
                "/v1/interactions",
                json={
                    "agent": "deep-research-preview-04-2026",
                    "input": "[emulator:stuck]",
                    "background": True,
                },
            )
        ).json()
        strict_interaction((await http.post(f"/v1/interactions/{stuck['id']}/cancel")).json())
        failed = (
            await http.post(
                "/v1/interactions",
                json={
                    "agent": "deep-research-preview-04-2026",
                    "input": "[emulator:fail]",
                    "background": True,
                },
            )
        ).json()
        failed_events = parse_sse((await http.get(f"/v1/interactions/{failed['id']}?stream=true")).text)
        error_event = EVENT.validate_python(next(e for e in failed_events if e["event_type"] == "error"))
        assert_known(error_event)
        strict_interaction((await http.get(f"/v1/interactions/{failed['id']}")).json())
        missing = await http.get("/v1/interactions/v1_missing")
        envelope = missing.json()
        assert set(envelope["error"]) == {"code", "message", "status"}
        CreateInteractionClientErrorData.model_validate(
            {"error": {**envelope["error"], "code": str(envelope["error"]["code"])}}
        )
