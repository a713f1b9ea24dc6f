"""A streamed foreground answer (what the Slack bot shows as Gemini writes it): its text pieces, joined, are the
answer; it equals the unstreamed answer, across continuation hops too, with usage summed; tool use arrives as
tool pieces; a stream that outlives the request timeout says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from server.core import AnswerPiece, GeminiInteractionsError, Settings, TextPiece, ToolPiece, UpstreamTimeout
from server.core.answers import to_answer
from server.core.gateway import Gateway
from server.core.streamed_answer import HopReader, TextFeed
from server.emulator import Emulator

pytestmark = pytest.mark.anyio
MODEL = "gemini-flash-latest"


class Pieces(list[AnswerPiece]):
    async def __call__(self, piece: AnswerPiece) -> None:
        self.append(piece)

    def text(self) -> str:
        return "".join(p.text for p in self if isinstance(p, TextPiece))


async def test_a_streamed_answer_equals_the_unstreamed_one(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    gateway = Gateway(settings_for())
    prompt = "Explain tides " + "in some detail " * 20
    plain = await gateway.ask(prompt, model=MODEL, tools=["google_search"])
    pieces = Pieces()
    streamed = await gateway.ask(prompt, model=MODEL, tools=["google_search"], on_piece=pieces)
    await gateway.aclose()
    texts = [p for p in pieces if isinstance(p, TextPiece)]
    assert len(texts) >= 3  # it arrived in several pieces
    assert pieces.text() == streamed.text == plain.text
    assert [c.url for c in streamed.citations] == [c.url for c in plain.citations]
    assert streamed.usage is not None and streamed.usage.total_tokens > 0
    assert streamed.usage.grounding_tool_counts == {"google_search": 1}
    tools = [p for p in pieces if isinstance(p, ToolPiece)]
    assert [(t.tool, t.status) for t in tools] == [
        ("google_search", "in_progress"),
        ("google_search", "complete"),
    ]
    assert tools[0].call_id == tools[1].call_id and tools[0].detail
    # The tool ran before the text that used it.
    assert pieces.index(tools[1]) < pieces.index(texts[0])
    stored = emu.interaction(streamed.interaction_id)
    assert stored is not None and stored["status"] == "completed"


async def test_a_streamed_answer_follows_continuation_hops(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    gateway = Gateway(settings_for())
    plain = await gateway.ask("Tell me everything [emulator:hops=3]", model=MODEL)
    pieces = Pieces()
    streamed = await gateway.ask("Tell me everything [emulator:hops=3]", model=MODEL, on_piece=pieces)
    await gateway.aclose()
    assert len(streamed.hop_ids) == 3 and streamed.interaction_id == streamed.hop_ids[-1]
    assert pieces.text() == streamed.text == plain.text and streamed.incomplete is None
    assert streamed.usage is not None and plain.usage is not None
    assert streamed.usage.output_tokens == sum(
        emu.interaction(h)["usage"]["total_output_tokens"] for h in streamed.hop_ids
    )
    assert streamed.usage.initial_input_tokens == plain.usage.initial_input_tokens
    assert emu.stats.by_kind["create"] == 6


async def test_a_stream_longer_than_the_request_timeout_is_an_error_that_says_so(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    gateway = Gateway(settings_for(request_timeout_seconds=1.0))
    pieces = Pieces()
    with pytest.raises(UpstreamTimeout, match="in time"):
        await gateway.ask("Slow writer " * 30 + "[emulator:write_seconds=5]", model=MODEL, on_piece=pieces)
    await gateway.aclose()
    assert pieces.text()  # the first pieces were handed on before the time ran out


async def test_a_refused_streamed_create_raises_the_usual_error(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    emu.faults.error(429, kind="create")
    gateway = Gateway(settings_for())
    with pytest.raises(GeminiInteractionsError):
        await gateway.ask("Hello", model=MODEL, on_piece=Pieces())
    await gateway.aclose()


def test_text_joins_by_the_answer_rule() -> None:
    """Runs of text join with nothing; a tool step or an image between them gives a blank line; an empty
    run adds nothing; thoughts are skipped (as to_answer reads the steps)."""
    reader = HopReader(TextFeed())
    events: list[dict[str, Any]] = [
        {"event_type": "interaction.created", "interaction": {"id": "i1", "status": "in_progress"}},
        {"event_type": "step.start", "index": 0, "step": {"type": "thought"}},
        {"event_type": "step.start", "index": 1, "step": {"type": "model_output", "content": []}},
        {"event_type": "step.delta", "index": 1, "delta": {"type": "text", "text": "One "}},
        {"event_type": "step.delta", "index": 1, "delta": {"type": "text", "text": "two."}},
        {"event_type": "step.start", "index": 2, "step": {"type": "code_execution_call", "id": "c1"}},
        {"event_type": "step.start", "index": 3, "step": {"type": "model_output", "content": []}},
        {"event_type": "step.delta", "index": 3, "delta": {"type": "text", "text": ""}},
        {"event_type": "step.delta", "index": 3, "delta": {"type": "text", "text": "Three."}},
        {
            "event_type": "step.delta",
            "index": 3,
            "delta": {"type": "image", "data": "AA==", "mime_type": "x"},
        },
        {"event_type": "step.delta", "index": 3, "delta": {"type": "text", "text": "Four."}},
        {"event_type": "interaction.completed", "interaction": {"id": "i1", "status": "completed"}},
    ]
    text = ""
    for event in events:
        text += "".join(p.text for p in reader.read(event) if isinstance(p, TextPiece))
    assert text == "One two.\n\nThree.\n\nFour."
    assert to_answer(reader.interaction()).text == text
