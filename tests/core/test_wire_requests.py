"""Every request body the gateway sends, as the emulator received it, parses with google-genai's request types
with nothing left over; a copy with any one field renamed fails the check."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable

import pydantic
import pytest
from PIL import Image

from server.core import Settings
from server.core.attachments import from_bytes
from server.core.gateway import Gateway
from server.emulator import Emulator
from tests.support import wire_check

pytestmark = pytest.mark.anyio
MODEL = "gemini-flash-latest"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * 80)
    return buffer.getvalue()


async def test_every_request_the_gateway_sends_matches_the_sdk_types(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    gateway = Gateway(settings_for())
    attachments = [
        from_bytes("a.png", _png()),
        from_bytes("a.pdf", b"%PDF-1.4\n%%EOF\n"),
        from_bytes("a.wav", _wav()),
        from_bytes("notes.txt", b"remember"),
        from_bytes("voice.aiff", b"FORM\x00\x00\x00\x04AIFF", "audio/x-aiff"),  # an alias, normalised
    ]
    first = await gateway.ask(
        "Who won? https://example.org",
        model=MODEL,
        system_instruction="Be brief.",
        tools=["google_search", "url_context", "code_execution"],
        attachments=attachments,
        thinking_level="low",
    )
    await gateway.ask(
        "Pick a city",
        model=MODEL,
        response_schema={"type": "object", "properties": {"city": {"type": "string"}}},
        previous_interaction_id=first.interaction_id,
    )
    long = await gateway.ask("Tell me everything [emulator:hops=3]", model=MODEL)
    assert len(long.hop_ids) == 3
    image = await gateway.generate_image("a fox", model="gemini-3.1-flash-image", aspect_ratio="16:9")
    await gateway.generate_image(
        "with a hat", model="gemini-3.1-flash-image", previous_interaction_id=image.interaction_id
    )
    await gateway.start_research(
        "TPUs [emulator:research_seconds=0.2]", agent="deep-research-preview-04-2026"
    )
    await gateway.aclose()

    bodies = emu.received_bodies()
    assert len(bodies) == 8  # 2 asks, 3 hops, 2 images, 1 research
    for body in bodies:
        wire_check.request(body)
    hops = [b for b in bodies if "continuation_token" in b]
    assert len(hops) == 2 and all("input" not in b and b["previous_interaction_id"] for b in hops)
    assert bodies[0]["generation_config"] == {"thinking_level": "low"}
    (turn,) = bodies[0]["input"]  # the SDK sends a list of contents as one user_input step
    audio = [c["mime_type"] for c in turn["content"] if c.get("type") == "audio"]
    assert audio == ["audio/wav", "audio/aiff"]

    for body in bodies:
        for path in wire_check.field_paths(body):
            if "schema" in path:  # a JSON schema is free-form JSON
                continue
            with pytest.raises((AssertionError, pydantic.ValidationError)):
                wire_check.request(wire_check.renamed(body, path, f"{path[-1]}_renamed"))
