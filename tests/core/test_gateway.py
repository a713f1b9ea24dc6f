"""The gateway against the emulator: steps become our types, SDK errors become ours, streams parse raw SSE."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from server.core import Settings, errors
from server.core.gateway import Gateway
from server.emulator import Emulator

pytestmark = pytest.mark.anyio

AGENT = "deep-research-preview-04-2026"


@pytest.fixture
def gateway(settings_for: Callable[..., Settings]) -> Gateway:
    return Gateway(settings_for(request_timeout_seconds=2.0), replica_id="test-replica")


async def test_answer_text_usage_and_citations(gateway: Gateway, emu: Emulator) -> None:
    answer = await gateway.ask("Who won?", model="gemini-3.8-flash", tools=["google_search"])
    assert answer.interaction_id.startswith("v1_") and answer.status == "completed"
    assert "Who won?" in answer.text
    assert answer.usage is not None and answer.usage.total_tokens > 0
    assert answer.citations and answer.citations[0].url.startswith("http")


async def test_stream_yields_progress_and_completion_with_event_ids(gateway: Gateway, emu: Emulator) -> None:
    started = await gateway.start_research("chips [emulator:research_seconds=0.5]", agent=AGENT)
    updates = [u async for u in gateway.stream(started.interaction_id, read_timeout=5)]
    assert updates[-1].kind == "completed" and updates[-1].status == "completed"
    assert any(u.kind == "progress" and u.text for u in updates)
    ids = [u.event_id for u in updates if u.event_id]
    resumed = [u async for u in gateway.stream(started.interaction_id, last_event_id=ids[-3], read_timeout=5)]
    assert [u.event_id for u in resumed if u.event_id] == ids[-2:]
    assert emu.stats.requests_for(started.interaction_id).get("stream") == 2


async def test_silent_cut_ends_the_stream_without_completion(gateway: Gateway, emu: Emulator) -> None:
    started = await gateway.start_research("cut [emulator:research_seconds=2]", agent=AGENT)
    emu.faults.cut_stream(after_events=2)
    updates = [u async for u in gateway.stream(started.interaction_id, read_timeout=5)]
    assert len(updates) == 2 and all(u.kind != "completed" for u in updates)


async def test_hanging_stream_raises_timeout(gateway: Gateway, emu: Emulator) -> None:
    started = await gateway.start_research("hang [emulator:research_seconds=5]", agent=AGENT)
    emu.faults.hang_stream(after_events=1, kind="stream")
    with pytest.raises(errors.UpstreamTimeout):
        async for _ in gateway.stream(started.interaction_id, read_timeout=0.5):
            pass


@pytest.mark.parametrize(
    ("arm", "expected", "words"),
    [
        (lambda e: e.faults.rate_limit(1, kind="create"), errors.RateLimited, "Retry after"),
        (lambda e: e.faults.server_error(503, kind="create"), errors.UpstreamUnavailable, "Try again"),
        (lambda e: e.faults.server_error(500, kind="create"), errors.UpstreamUnavailable, "server error"),
        (lambda e: e.faults.hang(kind="create"), errors.UpstreamTimeout, "start_research"),
        (lambda e: e.faults.reset_connection(kind="create"), errors.UpstreamUnavailable, "connection"),
        (lambda e: e.faults.malformed_json(kind="create"), errors.UpstreamError, "could not read"),
    ],
)
async def test_upstream_failures_become_clear_errors(
    gateway: Gateway, emu: Emulator, arm: Callable[[Emulator], object], expected: type, words: str
) -> None:
    arm(emu)
    with pytest.raises(expected, match=words):
        await gateway.ask("hello", model="gemini-3.8-flash")


async def test_rate_limit_carries_retry_after(gateway: Gateway, emu: Emulator) -> None:
    emu.faults.rate_limit(1, kind="create", retry_after=7)
    with pytest.raises(errors.RateLimited) as caught:
        await gateway.ask("hello", model="gemini-3.8-flash")
    assert caught.value.retry_after == pytest.approx(7)


async def test_expired_continuation_says_to_start_again(gateway: Gateway, emu: Emulator) -> None:
    with pytest.raises(errors.InteractionExpired, match="Start a new thread"):
        await gateway.ask("again", model="gemini-3.8-flash", previous_interaction_id="v1_gone")


@pytest.mark.parametrize(("key", "words"), [("bad-key", "API key is not valid"), (None, "GEMINI_API_KEY")])
async def test_key_problems_say_how_to_fix(
    settings_for: Callable[..., Settings], emu: Emulator, key: str | None, words: str
) -> None:
    gateway = Gateway(settings_for(api_key=key))
    with pytest.raises(errors.GeminiInteractionsError, match=words) as caught:
        await gateway.ask("hello", model="gemini-3.8-flash")
    assert "bad-key" not in str(caught.value)


async def test_free_tier_research_is_refused_with_paid_key_hint(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    gateway = Gateway(settings_for(api_key="free-tier-key"))
    with pytest.raises(errors.RateLimited, match="paid-tier key"):
        await gateway.start_research("anything", agent=AGENT)


async def test_requests_name_the_replica(gateway: Gateway, emu: Emulator) -> None:
    answer = await gateway.ask("hello", model="gemini-3.8-flash")
    assert "test-replica" in str(emu.stats.snapshot()), answer.interaction_id
