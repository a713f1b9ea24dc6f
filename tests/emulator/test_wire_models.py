"""Every payload the emulator sends parses with google-genai's own response models with nothing left over (no extra
field, no ``Unknown*`` variant, no unrecognised enum value): non-streamed answers, GETs, stream events, every
continuation hop, cancels, and Google's error envelope. A copy with any one field renamed must fail the check."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pydantic
import pytest

from server.emulator import Emulator, EmulatorHandle
from tests.support import wire_check

pytestmark = pytest.mark.anyio
AGENT = "deep-research-preview-04-2026"
HEADERS = {"x-goog-api-key": "k"}
# Free-form JSON the models keep as dicts: renaming inside them is not a wire change.
FREE_FORM = {"schema", "labels", "metadata"}


async def test_every_payload_parses_with_nothing_left_over(
    emulator_server: EmulatorHandle, emu: Emulator
) -> None:
    emu.config.research_seconds = 0.1
    payloads: list[tuple[str, Any]] = []  # (kind, payload)
    async with httpx.AsyncClient(base_url=emulator_server.url, headers=HEADERS, timeout=10) as http:

        async def create(body: dict[str, Any]) -> dict[str, Any]:
            response = await http.post("/v1/interactions", json=body)
            assert response.status_code == 200, response.text
            payloads.append(("interaction", response.json()))
            return response.json()

        async def get(path: str) -> dict[str, Any]:
            data = (await http.get(path)).json()
            payloads.append(("interaction", data))
            return data

        async def stream(path: str, **body: Any) -> list[dict[str, Any]]:
            response = await (http.post(path, json=body) if body else http.get(path))
            assert response.headers["content-type"].startswith("text/event-stream")
            events = wire_check.sse_events(response.text)
            payloads.extend(("event", e) for e in events)
            return events

        text = await create(
            {
                "model": "gemini-3.8-flash",
                "input": [
                    {"type": "text", "text": "hi"},
                    {"type": "image", "data": base64.b64encode(b"x" * 10).decode(), "mime_type": "image/png"},
                ],
                "tools": [{"type": "google_search"}, {"type": "url_context"}, {"type": "code_execution"}],
                "system_instruction": "be brief",
                "generation_config": {"thinking_level": "low"},
            }
        )
        await get(f"/v1/interactions/{text['id']}?include_input=true")
        await create(
            {
                "model": "gemini-3.1-flash-image",
                "input": "a fox",
                "response_format": [
                    {"type": "text"},
                    {"type": "image", "aspect_ratio": "1:1", "image_size": "512"},
                ],
            }
        )
        await create(
            {
                "model": "gemini-flash-latest",
                "input": "Pick a city",
                "response_format": {
                    "type": "text",
                    "mime_type": "application/json",
                    "schema": {"type": "object"},
                },
            }
        )
        # A long answer in three hops, non-streamed and streamed.
        hop = await create({"model": "gemini-flash-latest", "input": "long [emulator:hops=3]"})
        while hop.get("continuation_token"):
            assert hop["status"] == "requires_continuation"
            hop = await create(
                {
                    "model": "gemini-flash-latest",
                    "continuation_token": hop["continuation_token"],
                    "previous_interaction_id": hop["id"],
                }
            )
        events = await stream(
            "/v1/interactions", model="gemini-flash-latest", input="[emulator:hops=2]", stream=True
        )
        first_hop = next(e for e in events if e["event_type"] == "interaction.completed")["interaction"]
        assert first_hop["status"] == "requires_continuation" and first_hop["continuation_token"]
        await stream(
            "/v1/interactions",
            model="gemini-flash-latest",
            continuation_token=first_hop["continuation_token"],
            previous_interaction_id=first_hop["id"],
            stream=True,
        )
        research = await create(
            {
                "agent": AGENT,
                "input": "Research x [emulator:start_status=queued][emulator:status=idle]",
                "background": True,
                "agent_config": {
                    "type": "deep-research",
                    "thinking_summaries": "auto",
                    "visualization": "auto",
                },
            }
        )
        events = await stream(f"/v1/interactions/{research['id']}?stream=true")
        assert {e["event_type"] for e in events} == {
            "interaction.created",
            "interaction.status_update",
            "step.start",
            "step.delta",
            "step.stop",
            "interaction.completed",
        }
        assert (await get(f"/v1/interactions/{research['id']}"))["status"] == "completed"
        stuck = await create({"agent": AGENT, "input": "[emulator:stuck]", "background": True})
        payloads.append(("interaction", (await http.post(f"/v1/interactions/{stuck['id']}/cancel")).json()))
        failed = await create({"agent": AGENT, "input": "[emulator:fail]", "background": True})
        events = await stream(f"/v1/interactions/{failed['id']}?stream=true")
        assert any(e["event_type"] == "error" for e in events)
        await get(f"/v1/interactions/{failed['id']}")

        for response in (
            await http.get("/v1/interactions/v1_missing"),
            await http.post("/v1/interactions", json={"model": "gemini-0-retired", "input": "x"}),
            await http.post("/v1/interactions", json={"model": "gemini-flash-latest", "input": "x", "nope": 1}),
            await http.post("/v1/interactions", json={"model": "gemini-flash-latest"}, headers={"x-goog-api-key": ""}),
            await http.post("/v1/interactions", json={"model": "gemini-flash-latest", "input": "x"}, headers={"x-goog-api-key": "bad"}),
            await http.post("/v1/interactions", json={"agent": AGENT, "input": "x", "background": True}, headers={"x-goog-api-key": "free"}),
        ):  # fmt: skip
            assert response.status_code >= 400
            payloads.append(("error", response.json()))

    check = {
        "interaction": wire_check.interaction,
        "event": wire_check.event,
        "error": wire_check.error_envelope,
    }
    for kind, payload in payloads:
        check[kind](payload)
    kinds = {(k, p.get("event_type")) for k, p in payloads}
    assert ("event", "interaction.completed") in kinds and ("error", None) in kinds

    # A renamed field anywhere (outside free-form JSON) fails: pick a rich payload of each kind.
    samples = [
        (
            "interaction",
            next(p for k, p in payloads if k == "interaction" and p.get("usage") and p.get("steps")),
        ),
        (
            "event",
            next(p for k, p in payloads if k == "event" and p["event_type"] == "interaction.completed"),
        ),
        ("event", next(p for k, p in payloads if k == "event" and p["event_type"] == "step.delta")),
        ("error", payloads[-2][1]),
    ]
    for kind, payload in samples:
        for path in wire_check.field_paths(payload):
            if FREE_FORM & {p for p in path if isinstance(p, str)}:
                continue
            with pytest.raises((AssertionError, pydantic.ValidationError)):
                check[kind](wire_check.renamed(payload, path, f"{path[-1]}_renamed"))
