"""Image models: real PNGs at the requested size, refinement through history, and text-only answers."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from google import genai
from PIL import Image

from server.emulator import EmulatorHandle

pytestmark = pytest.mark.anyio
IMAGE_MODEL = "gemini-3.1-flash-image"


def decode(it: object) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(it.output_image.data)))  # type: ignore[attr-defined]  # an interaction, typed loosely
    image.load()
    return image


@pytest.mark.parametrize(
    ("aspect_ratio", "image_size", "expected"),
    [
        (None, None, (1024, 1024)),
        ("16:9", None, (1344, 768)),
        ("9:16", "2K", (1536, 2688)),
        ("4:3", "512", (592, 432)),
    ],
)
async def test_png_has_requested_dimensions(
    client: genai.Client, aspect_ratio: str | None, image_size: str | None, expected: tuple[int, int]
) -> None:
    image_format: dict[str, str] = {"type": "image"}
    if aspect_ratio:
        image_format["aspect_ratio"] = aspect_ratio
    if image_size:
        image_format["image_size"] = image_size
    it = await client.aio.interactions.create(
        model=IMAGE_MODEL, input="a red fox in snow", response_format=[{"type": "text"}, image_format]
    )
    assert it.output_image.mime_type == "image/png"
    image = decode(it)
    assert image.format == "PNG" and image.size == expected
    assert "a red fox in snow" in it.output_text


async def test_refinement_keeps_colour_and_says_so(client: genai.Client) -> None:
    first = await client.aio.interactions.create(model=IMAGE_MODEL, input="a lighthouse at dusk")
    second = await client.aio.interactions.create(
        model=IMAGE_MODEL, input="make it brighter", previous_interaction_id=first.id
    )
    assert "Refined the earlier image" in second.output_text
    a, b = decode(first).convert("RGB"), decode(second).convert("RGB")
    assert a.getpixel((2, a.height - 3)) == b.getpixel((2, b.height - 3))  # same background colour
    assert a.tobytes() != b.tobytes()  # but a different picture
    other = await client.aio.interactions.create(model=IMAGE_MODEL, input="a green meadow")
    assert "Refined" not in other.output_text


async def test_noimage_prompt_answers_text_only(client: genai.Client) -> None:
    it = await client.aio.interactions.create(model=IMAGE_MODEL, input="describe a cat, noimage please")
    assert it.output_image is None
    assert it.status == "completed" and "noimage" in it.output_text


async def test_uri_delivery_serves_the_bytes(client: genai.Client, emulator_server: EmulatorHandle) -> None:
    it = await client.aio.interactions.create(
        model=IMAGE_MODEL,
        input="a kite",
        response_format={"type": "image", "delivery": "uri", "aspect_ratio": "1:1"},
    )
    item = it.output_image
    assert item.data is None and item.uri.startswith(emulator_server.url)
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(item.uri)).status_code == 401  # a download needs the key
        response = await http.get(item.uri, headers={"x-goog-api-key": "test-key"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (1024, 1024)
