"""A long answer arrives in continuation hops: the gateway returns it whole, with usage summed over the hops,
within one time budget and at most 8 hops; an answer that still stops early says why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from server.core import Settings
from server.core.answers import to_usage
from server.core.continuation import MAX_HOPS
from server.core.domain import Usage
from server.core.gateway import Gateway
from server.emulator import Emulator

pytestmark = pytest.mark.anyio
MODEL = "gemini-flash-latest"


def _hop_usage(emu: Emulator, hop_ids: tuple[str, ...]) -> Usage:
    usages = []
    for hop_id in hop_ids:
        stored = emu.interaction(hop_id)
        assert stored is not None
        usages.append(to_usage(stored["usage"]))
    total = usages[0]
    for usage in usages[1:]:
        total = total + usage
    return total


async def test_a_three_hop_answer_arrives_whole_with_summed_usage(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    gateway = Gateway(settings_for())
    whole = await gateway.ask("Explain tides", model=MODEL, tools=["google_search"])
    emu.config.continuation_chars = len(whole.text) // 3 + 1
    split = await gateway.ask("Explain tides", model=MODEL, tools=["google_search"])
    await gateway.aclose()

    assert len(split.hop_ids) == 3 and split.interaction_id == split.hop_ids[-1]
    assert split.text == whole.text and split.incomplete is None
    assert split.status == "completed"
    assert [c.url for c in split.citations] == [c.url for c in whole.citations]
    assert split.usage == _hop_usage(emu, split.hop_ids)
    assert split.usage is not None and whole.usage is not None
    assert (
        split.usage.initial_input_tokens == emu.interaction(split.hop_ids[0])["usage"]["total_input_tokens"]
    )
    assert split.usage.grounding_tool_counts == {"google_search": 1}
    assert split.usage.tool_use_by_modality == whole.usage.tool_use_by_modality != {}
    assert split.usage.output_tokens == sum(
        emu.interaction(h)["usage"]["total_output_tokens"] for h in split.hop_ids
    )
    # The conversation goes on from the last hop.
    follow = await Gateway(settings_for()).ask(
        "And?", model=MODEL, previous_interaction_id=split.interaction_id
    )
    assert "1 earlier turn" in follow.text


async def test_at_most_eight_hops_then_it_says_the_answer_is_incomplete(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    gateway = Gateway(settings_for())
    answer = await gateway.ask("Everything [emulator:hops=12]", model=MODEL)
    await gateway.aclose()
    assert len(answer.hop_ids) == MAX_HOPS == 8
    assert answer.status == "requires_continuation"
    assert (
        answer.incomplete and "stopped before the end" in answer.incomplete and "8 parts" in answer.incomplete
    )
    assert emu.stats.by_kind["create"] == 8


async def test_all_hops_share_one_request_timeout(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    gateway = Gateway(settings_for(request_timeout_seconds=1.5))
    answer = await gateway.ask("Slowly [emulator:hops=6][emulator:text_delay=0.6]", model=MODEL)
    await gateway.aclose()
    assert 1 <= len(answer.hop_ids) < 6 and answer.text
    assert answer.incomplete and "stopped before the end" in answer.incomplete


async def test_a_failing_later_hop_keeps_the_parts_already_made(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    emu.faults.error(503, kind="create", skip=1)
    gateway = Gateway(settings_for())
    answer = await gateway.ask("Broken [emulator:hops=3]", model=MODEL)
    await gateway.aclose()
    assert len(answer.hop_ids) == 1 and answer.text
    assert (
        answer.incomplete
        and "part 2 failed" in answer.incomplete
        and "server error (503" in answer.incomplete
    )


async def test_thinking_level_reaches_gemini(settings_for: Callable[..., Settings], emu: Emulator) -> None:
    gateway = Gateway(settings_for())
    answer = await gateway.ask("Quick one", model=MODEL, thinking_level="minimal")
    await gateway.aclose()
    assert "Thinking level: minimal" in answer.text
    sent: list[dict[str, Any]] = emu.received_bodies()
    assert sent[-1]["generation_config"] == {"thinking_level": "minimal"}
