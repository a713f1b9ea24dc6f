"""MCP answers as Gemini works today: whole answers across continuation hops with summed usage, the model that
served, thinking levels, and a retired model named as such (not as an expired thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest

from server.core.models import ThinkingLevel
from server.emulator import EmulatorHandle
from server.mcp.app import build_server
from tests.support.env import make_settings
from tests.support.mcp import connect, text_of

pytestmark = pytest.mark.anyio
MODE = "auto"


def _hops(emulator: EmulatorHandle, last_id: str) -> list[dict[str, Any]]:
    """Every hop of an answer, first to last, as the emulator stored them."""
    hops = [emulator.emulator.interaction(last_id)]
    while hops[0] and hops[0].get("previous_interaction_id"):
        before = emulator.emulator.interaction(hops[0]["previous_interaction_id"])
        if not before or before["status"] != "requires_continuation":
            break
        hops.insert(0, before)
    return [h for h in hops if h]


async def test_a_three_hop_answer_is_whole_once_with_summed_usage(
    server: Any, emulator: EmulatorHandle
) -> None:
    async with connect(server, MODE) as client:
        result = await client.call_tool("ask", {"prompt": "Tell me a long story [emulator:hops=3]"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    hops = _hops(emulator, data["interaction_id"])
    assert [h["status"] for h in hops] == ["requires_continuation", "requires_continuation", "completed"]
    text = data["text"]
    assert text.count('You said: "Tell me a long story [emulator:hops=3]"') == 1
    assert text.count("Answered by gemini-flash-latest.") == 1 and data["incomplete"] is None
    parts = "".join(
        c["text"] for h in hops for s in h["steps"] if s["type"] == "model_output" for c in s["content"]
    )
    assert text == parts
    for name, key in [("input_tokens", "total_input_tokens"), ("output_tokens", "total_output_tokens"),
                      ("total_tokens", "total_tokens")]:  # fmt: skip
        assert data["usage"][name] == sum(h["usage"][key] for h in hops), name
    assert data["usage"]["output_by_modality"]["text"] == sum(h["usage"]["total_output_tokens"] for h in hops)


async def test_thinking_level_and_the_model_that_served(server: Any, emulator: EmulatorHandle) -> None:
    async with connect(server, MODE) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        quick = await client.call_tool("ask", {"prompt": "Quick", "thinking_level": "minimal"})
        routed = await client.call_tool("ask", {"prompt": "Old id", "model": "gemini-3.5-flash"})
        wrong = await client.call_tool("ask", {"prompt": "x", "thinking_level": "max"})
    for name in ("ask", "continue_thread"):
        levels = tools[name].input_schema["properties"]["thinking_level"]["anyOf"][0]["enum"]
        assert levels == list(get_args(ThinkingLevel))
    assert "Thinking level: minimal" in quick.structured_content["text"]
    assert routed.structured_content["model"] == "gemini-3.6-flash"
    assert wrong.is_error and "validation error" in text_of(wrong)


async def test_the_thinking_level_setting_is_the_default(
    emulator: EmulatorHandle, tmp_path: Path, clean_env: None
) -> None:
    server = build_server(make_settings(tmp_path / "data", emulator.url, thinking_level="high"))
    async with connect(server, MODE) as client:
        result = await client.call_tool("ask", {"prompt": "Deep"})
    assert "Thinking level: high" in result.structured_content["text"]


async def test_a_retired_model_setting_says_so_on_ask_and_continue_thread(
    emulator: EmulatorHandle, tmp_path: Path, clean_env: None
) -> None:
    server = build_server(make_settings(tmp_path / "data", emulator.url, model="gemini-0-retired"))
    async with connect(server, MODE) as client:
        asked = await client.call_tool("ask", {"prompt": "hi"})
        continued = await client.call_tool(
            "continue_thread", {"interaction_id": "v1_earlier", "prompt": "hi"}
        )
    for result in (asked, continued):
        assert result.is_error
        message = text_of(result)
        assert "does not know the model 'gemini-0-retired'" in message
        assert "GEMINI_INTERACTIONS_MODEL" in message and "gemini-flash-latest" in message
        assert "new thread" not in message


async def test_an_answer_that_still_stops_early_says_so(server: Any) -> None:
    async with connect(server, MODE) as client:
        result = await client.call_tool("ask", {"prompt": "Everything [emulator:hops=12]"})
    assert not result.is_error
    assert "stopped before the end" in result.structured_content["incomplete"]
    assert "stopped before the end" in text_of(result)
