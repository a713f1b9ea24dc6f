"""The MCP tools in memory, through the official client in both protocol eras, against the emulator."""

from __future__ import annotations

import base64
import io
import json
import wave
from pathlib import Path
from typing import Any

import pytest
from mcp.types import ImageContent, ResourceLink
from PIL import Image

from server.mcp.app import build_server
from tests.support.env import free_port, make_settings
from tests.support.mcp import connect, text_of

pytestmark = pytest.mark.anyio

TOOLS = {
    "ask",
    "continue_thread",
    "generate_image",
    "start_research",
    "approve_research",
    "research_status",
    "cancel_research",
    "list_research",
}


def make_png(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, (200, 30, 30)).save(path, format="PNG")
    return path


def make_pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    return path


def make_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * 800)
    return path


async def test_tools_list_describes_every_argument_output_and_hint(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        templates = (await client.list_resource_templates()).resource_templates
        prompts = (await client.list_prompts()).prompts

    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description, tool.name
        for name, prop in tool.input_schema["properties"].items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
        assert tool.output_schema is not None, tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint is not None, tool.name
    assert tools["ask"].annotations.open_world_hint is True
    assert tools["research_status"].annotations.read_only_hint is True
    assert tools["research_status"].annotations.open_world_hint is False
    assert tools["cancel_research"].annotations.destructive_hint is True
    assert set(tools["generate_image"].output_schema["properties"]) >= {"interaction_id", "images", "text"}
    aspect = tools["generate_image"].input_schema["properties"]["aspect_ratio"]
    assert len(aspect["anyOf"][0]["enum"]) == 14
    assert set(tools["research_status"].output_schema["properties"]) >= {
        "status",
        "elapsed_seconds",
        "progress",
        "report",
        "next_offset",
        "report_path",
        "error",
        "plan",
        "run_interaction_id",
    }
    assert set(tools["approve_research"].input_schema["properties"]) == {"interaction_id", "changes"}
    assert tools["start_research"].input_schema["properties"]["plan_first"]["default"] is False
    page = tools["research_status"].input_schema["properties"]["max_chars"]
    assert (page["default"], page["minimum"], page["maximum"]) == (8000, 500, 50000)
    assert {t.uri_template: t.mime_type for t in templates} == {
        "research://{interaction_id}": "text/markdown",
        "research://{interaction_id}/images/{n}": "image/png",
        "image://{interaction_id}": "application/json",
        "image://{interaction_id}/{n}": "image/png",
    }
    (prompt,) = prompts
    assert prompt.name == "competitive_intelligence"
    assert prompt.arguments and prompt.arguments[0].name == "company" and prompt.arguments[0].description


async def test_ask_answers_with_structured_output(server: Any, mode: str, settings: Any) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("ask", {"prompt": "Hello there"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["interaction_id"].startswith("v1_")
    assert data["model"] == settings.model
    assert 'You said: "Hello there"' in data["text"]
    assert data["usage"]["total_tokens"] > 0
    assert data["interaction_id"] in text_of(result)  # the JSON is also there for hosts that read text only


async def test_ask_passes_system_instruction_tools_and_schema(server: Any, mode: str) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    async with connect(server, mode) as client:
        steered = await client.call_tool(
            "ask",
            {
                "prompt": "Where is the Eiffel tower?",
                "system_instruction": "Answer like a pirate",
                "tools": ["google_search", "code_execution"],
                "model": "gemini-pro-latest",
            },
        )
        shaped = await client.call_tool("ask", {"prompt": "Pick a city", "response_schema": schema})
        refused = await client.call_tool("ask", {"prompt": "x", "tools": ["file_search"]})
    text = steered.structured_content["text"]
    assert 'System instruction: "Answer like a pirate"' in text
    assert "Tools requested: google_search, code_execution" in text
    assert steered.structured_content["model"] == "gemini-pro-latest"
    assert steered.structured_content["citations"][0]["url"].startswith("https://")
    assert isinstance(json.loads(shaped.structured_content["text"])["city"], str)
    assert refused.is_error and "tools" in text_of(refused)


async def test_continue_thread_remembers_the_conversation(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        first = await client.call_tool("ask", {"prompt": "My name is Ada"})
        second = await client.call_tool(
            "continue_thread",
            {"interaction_id": first.structured_content["interaction_id"], "prompt": "What is my name?"},
        )
        third = await client.call_tool(
            "continue_thread",
            {"interaction_id": second.structured_content["interaction_id"], "prompt": "And again?"},
        )
    assert not second.is_error, text_of(second)
    assert "1 earlier turn; it began with: 'My name is Ada'" in second.structured_content["text"]
    assert "2 earlier turns; it began with: 'My name is Ada'" in third.structured_content["text"]
    assert len({first.structured_content["interaction_id"], second.structured_content["interaction_id"]}) == 2


async def test_continue_thread_from_an_unknown_id_says_it_expired(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool(
            "continue_thread", {"interaction_id": "v1_never-stored-here", "prompt": "Hello?"}
        )
    assert result.is_error
    message = text_of(result)
    assert "expire" in message and "store=false" in message and "new thread" in message
    assert "Traceback" not in message


async def test_ask_with_attachments_sends_every_part(server: Any, mode: str, tmp_path: Path) -> None:
    png = make_png(tmp_path / "chart.png")
    pdf = make_pdf(tmp_path / "paper.pdf")
    wav = make_wav(tmp_path / "voice.wav")
    txt = tmp_path / "notes.txt"
    txt.write_text("Remember the milk.\n")
    async with connect(server, mode) as client:
        result = await client.call_tool(
            "ask", {"prompt": "What did I attach?", "attachments": [str(png), str(pdf), str(wav), str(txt)]}
        )
    assert not result.is_error, text_of(result)
    text = result.structured_content["text"]
    assert f"Received image/png ({png.stat().st_size} bytes)" in text
    assert f"Received application/pdf ({pdf.stat().st_size} bytes)" in text
    assert f"Received audio/wav ({wav.stat().st_size} bytes)" in text
    assert "Remember the milk." in text  # text files travel as text parts


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "missing.png", "does not exist"),
        (lambda d: d, "not a regular file"),
        (lambda d: _sparse(d / "huge.pdf", 15 * 1024 * 1024), "limit is 14 MiB"),
        (lambda d: _write(d / "blob.bin", b"\x00\x13\x37" * 100), "unsupported type"),
    ],
    ids=["missing", "directory", "too-large", "unsupported"],
)
async def test_attachment_refusals_say_why(
    server: Any, mode: str, tmp_path: Path, make: Any, expected: str
) -> None:
    path = make(tmp_path)
    async with connect(server, mode) as client:
        result = await client.call_tool("ask", {"prompt": "Look", "attachments": [str(path)]})
    assert result.is_error
    assert expected in text_of(result)


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        out.write(b"%PDF-1.4\n")
        out.truncate(size)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def test_http_callers_attach_only_inside_the_file_roots(
    emulator: Any, tmp_path: Path, mode: str
) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    inside = make_png(root / "ok.png")
    outside = make_png(tmp_path / "secret.png")
    (root / "link.png").symlink_to(outside)
    settings = make_settings(tmp_path / "data", emulator.url, file_roots=str(root))
    server = build_server(settings, transport="http")
    closed = build_server(make_settings(tmp_path / "data2", emulator.url), transport="http")

    async def attach(srv: Any, path: str) -> Any:
        async with connect(srv, mode) as client:
            return await client.call_tool("ask", {"prompt": "Look", "attachments": [path]})

    accepted = await attach(server, str(inside))
    assert not accepted.is_error, text_of(accepted)
    assert "Received image/png" in accepted.structured_content["text"]
    answers = set()
    for escape in (str(outside), f"{root}/../secret.png", str(root / "link.png"), str(root / "missing.png")):
        refused = await attach(server, escape)
        assert refused.is_error and "not a file this server may read" in text_of(refused), escape
        assert str(root) not in text_of(refused).replace(escape, ""), "the answer names the roots"
        answers.add(text_of(refused).replace(escape, "<path>"))
    assert len(answers) == 1, "a missing file and one outside the roots must get the same answer"
    relative = await attach(server, "ok.png")
    assert relative.is_error and "absolute path" in text_of(relative)
    disabled = await attach(closed, str(inside))
    assert disabled.is_error and "GEMINI_INTERACTIONS_FILE_ROOTS" in text_of(disabled)


async def test_generate_image_saves_the_file_and_shows_a_small_preview(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("generate_image", {"prompt": "a red fox", "aspect_ratio": "16:9"})
        assert not result.is_error, text_of(result)
        data = result.structured_content
        refined = await client.call_tool(
            "generate_image", {"prompt": "give it a hat", "interaction_id": data["interaction_id"]}
        )
        discussed = await client.call_tool(
            "continue_thread", {"interaction_id": data["interaction_id"], "prompt": "Describe the image"}
        )

    path = _check_saved_image(data, result.content, wide=True)
    assert str(path) in text_of(result)

    assert not refined.is_error, text_of(refined)
    assert refined.structured_content["interaction_id"] != data["interaction_id"]
    assert "Refined the earlier image" in refined.structured_content["text"]
    assert Path(refined.structured_content["images"][0]["path"]) != path
    assert not discussed.is_error and "1 earlier turn" in discussed.structured_content["text"]


def _check_saved_image(data: dict[str, Any], content: list[Any], *, wide: bool) -> Path:
    """The structured file exists and decodes; one inline preview smaller than it; a link to it."""
    (image,) = data["images"]
    path = Path(image["path"])
    assert path.is_file() and path.is_absolute()
    assert image["bytes"] == path.stat().st_size and image["mime_type"] == "image/png"
    with Image.open(path) as full:
        full.verify()
    with Image.open(path) as full:
        assert (full.size[0] > full.size[1]) is wide
    previews = [c for c in content if isinstance(c, ImageContent)]
    links = [c for c in content if isinstance(c, ResourceLink)]
    assert len(previews) == 1 and len(links) == 1
    preview = base64.b64decode(previews[0].data)
    assert len(preview) < path.stat().st_size
    with Image.open(io.BytesIO(preview)) as small:
        assert max(small.size) <= 512
    assert str(links[0].uri) == path.as_uri()
    return path


async def test_generate_image_without_an_image_says_so(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("generate_image", {"prompt": "noimage: just describe a fox"})
    assert result.is_error
    message = text_of(result)
    assert "no image" in message and "Rephrase" in message


async def test_invalid_arguments_are_readable_errors(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        empty = await client.call_tool("ask", {"prompt": ""})
        ratio = await client.call_tool("generate_image", {"prompt": "fox", "aspect_ratio": "7:3"})
        page = await client.call_tool("research_status", {"interaction_id": "v1_x", "max_chars": 10})
    for result in (empty, ratio, page):
        assert result.is_error and "validation error" in text_of(result)


async def test_without_a_key_every_gemini_tool_says_how_to_set_it(
    emulator: Any, tmp_path: Path, mode: str, clean_env: None
) -> None:
    server = build_server(make_settings(tmp_path / "data", emulator.url, api_key=None))
    calls = [
        ("ask", {"prompt": "hi"}),
        ("continue_thread", {"interaction_id": "v1_x", "prompt": "hi"}),
        ("generate_image", {"prompt": "a fox"}),
        ("start_research", {"prompt": "TPUs"}),
    ]
    async with connect(server, mode) as client:
        results = [await client.call_tool(name, args) for name, args in calls]
        listed = await client.call_tool("list_research", {})
    for (name, _), result in zip(calls, results, strict=True):
        assert result.is_error, name
        assert "GEMINI_API_KEY" in text_of(result) and "--emulator" in text_of(result), name
    assert not listed.is_error  # what needs no key still works


async def test_rate_limit_says_when_to_retry(server: Any, mode: str, faults: Any) -> None:
    faults.rate_limit(1, kind="create", retry_after=2)
    async with connect(server, mode) as client:
        limited = await client.call_tool("ask", {"prompt": "hi"})
        after = await client.call_tool("ask", {"prompt": "hi"})
    assert limited.is_error
    assert "rate limit" in text_of(limited) and "Retry after 2 s" in text_of(limited)
    assert not after.is_error


async def test_upstream_timeout_points_to_start_research(
    emulator: Any, tmp_path: Path, mode: str, faults: Any, clean_env: None
) -> None:
    server = build_server(make_settings(tmp_path / "data", emulator.url, request_timeout_seconds=0.5))
    faults.delay(3.0, 1, kind="create")
    async with connect(server, mode) as client:
        result = await client.call_tool("ask", {"prompt": "hi"})
    assert result.is_error
    assert "did not answer in time" in text_of(result) and "start_research" in text_of(result)


async def test_unreachable_api_says_to_check_the_network(tmp_path: Path, mode: str, clean_env: None) -> None:
    server = build_server(make_settings(tmp_path / "data", f"http://127.0.0.1:{free_port()}"))
    async with connect(server, mode) as client:
        result = await client.call_tool("ask", {"prompt": "hi"})
    assert result.is_error
    assert "Could not reach the Gemini API" in text_of(result)


async def test_upstream_server_error_is_readable(server: Any, mode: str, faults: Any) -> None:
    faults.server_error(503, 1, kind="create")
    async with connect(server, mode) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})
    assert result.is_error
    assert "server error (503" in text_of(result) and "Try again" in text_of(result)
