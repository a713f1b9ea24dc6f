"""Each row of the README's error table, end to end: the emulator sends Google's envelope, the gateway says
what really happened and what to do. A row without a case here (or a case without a row) fails."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from server.core import Settings, errors
from server.core.gateway import Gateway
from server.core.upstream_errors import Call, read_envelope, to_error
from server.emulator import Emulator

pytestmark = pytest.mark.anyio
README = Path(__file__).resolve().parents[2] / "README.md"
AGENT = "deep-research-preview-04-2026"
MODEL = "gemini-flash-latest"
LEAKED = "AIzaSyA1234567890abcdefghijklmnopqrstu"


async def _ask(gateway: Gateway) -> Any:
    return await gateway.ask("hello", model=MODEL)


async def _research(gateway: Gateway) -> Any:
    return await gateway.start_research("TPUs", agent=AGENT)


@dataclass
class Case:
    expected: type[Exception]
    words: tuple[str, ...]
    call: Callable[[Gateway], Awaitable[Any]] = _ask
    key: str = "test-key"
    arm: Callable[[Emulator], object] | None = None


CASES: dict[str, Case] = {
    "key-invalid": Case(errors.AuthenticationFailed, ("API key is not valid", "aistudio.google.com"), key="bad-1"),
    "key-unrestricted": Case(
        errors.AuthenticationFailed, ("no longer accepts this kind of API key", "Google AI Studio"), key="unrestricted-1"
    ),
    "key-unrestricted-403": Case(
        errors.AuthenticationFailed,
        ("no longer accepts this kind of API key", "restricting this key"),
        arm=lambda e: e.faults.error(403, kind="create", reason="ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    ),
    "key-api-restricted": Case(
        errors.AuthenticationFailed, ("API restrictions leave out the Generative Language API",), key="blocked-1"
    ),
    "key-app-restricted": Case(
        errors.AuthenticationFailed,
        ("application restrictions (IP addresses)",),
        arm=lambda e: e.faults.error(403, kind="create", reason="API_KEY_IP_ADDRESS_BLOCKED"),
    ),
    "key-other": Case(
        errors.AuthenticationFailed,
        ("refused the API key", "Expected credentials"),
        arm=lambda e: e.faults.error(401, kind="create", message="Expected credentials."),
    ),
    "other-reason": Case(
        errors.AccessDenied,
        ("has been suspended", "[key]", "…"),
        arm=lambda e: e.faults.error(
            403,
            kind="create",
            reason="CONSUMER_SUSPENDED",
            message=f"Permission denied: Consumer 'api_key:{LEAKED}' has been suspended. " + "Details " * 80,
        ),
    ),
    "model-unknown": Case(
        errors.UnknownModel,
        ("does not know the model 'gemini-0-retired'", "GEMINI_INTERACTIONS_MODEL", "gemini-flash-latest"),
        call=lambda g: g.ask("hello", model="gemini-0-retired"),
    ),
    "agent-unknown": Case(
        errors.UnknownModel,
        ("Deep Research agent 'deep-research-pro-preview-12-2025'", "shut down", "GEMINI_INTERACTIONS_RESEARCH_AGENT"),
        call=lambda g: g.start_research("TPUs", agent="deep-research-pro-preview-12-2025"),
    ),
    "interaction-expired": Case(
        errors.InteractionExpired,
        ("expire", "Start a new thread"),
        call=lambda g: g.ask("again", model=MODEL, previous_interaction_id="v1_gone"),
    ),
    "research-tier": Case(errors.RateLimited, ("not available on this key's tier", "paid-tier key"), _research, "free-1"),
    "research-denied": Case(
        errors.AccessDenied,
        ("may not use the Deep Research agent", "GEMINI_INTERACTIONS_RESEARCH_AGENT"),
        _research,
        arm=lambda e: e.faults.error(403, kind="create", message="The caller does not have permission"),
    ),
    "denied": Case(
        errors.AccessDenied,
        ("refused access to the model 'gemini-flash-latest'", "does not have permission"),
        arm=lambda e: e.faults.error(403, kind="create", message="The caller does not have permission"),
    ),
    "quota": Case(errors.RateLimited, ("rate limit or quota", "Retry after 7 s"), arm=lambda e: e.faults.rate_limit(1, kind="create", retry_after=7)),
    "prepaid": Case(errors.UpstreamRejected, ("prepaid credit is used up",), arm=lambda e: e.faults.error(402, kind="create")),
    "bad-argument": Case(
        errors.UpstreamRejected,
        ("refused the request (400 INVALID_ARGUMENT", "thinking_level"),
        call=lambda g: g.ask("hello", model=MODEL, thinking_level="max"),
    ),
    "server": Case(errors.UpstreamUnavailable, ("server error (503", "Try again"), arm=lambda e: e.faults.server_error(503, kind="create")),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
async def test_each_error_names_the_real_cause(
    case: str, settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    spec = CASES[case]
    if spec.arm is not None:
        spec.arm(emu)
    gateway = Gateway(settings_for(api_key=spec.key))
    try:
        with pytest.raises(spec.expected) as caught:
            await spec.call(gateway)
    finally:
        await gateway.aclose()
    message = str(caught.value)
    for words in spec.words:
        assert words in message, f"{case}: {words!r} not in {message!r}"
    assert spec.key not in message and LEAKED not in message


async def test_continue_thread_with_a_retired_model_is_not_an_expired_thread(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    gateway = Gateway(settings_for())
    first = await gateway.ask("hello", model=MODEL)
    with pytest.raises(errors.UnknownModel, match="gemini-0-retired") as caught:
        await gateway.ask("again", model="gemini-0-retired", previous_interaction_id=first.interaction_id)
    await gateway.aclose()
    assert "new thread" not in str(caught.value)


def test_the_interactions_api_string_codes_are_read_too() -> None:
    envelope = read_envelope(404, {"error": {"code": "model_not_found", "message": "Model not found."}})
    error = to_error(envelope, Call("answer", "gemini-x", from_argument=True, previous_interaction_id="v1_a"))
    assert isinstance(error, errors.UnknownModel) and "model argument" in str(error)
    listed = read_envelope(429, [{"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED",
                                             "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                                          "retryDelay": "22s"}]}}])  # fmt: skip
    assert listed.retry_after == 22 and listed.status == "RESOURCE_EXHAUSTED"


def test_every_row_of_the_readme_error_table_has_a_case() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("<!-- error-table -->") : text.index("<!-- /error-table -->")]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|", table, flags=re.MULTILINE)
    assert rows and set(rows) == set(CASES), set(rows) ^ set(CASES)
    for row in table.splitlines()[3:]:
        if row.startswith("| `"):
            assert "https://" in row, f"row without a source: {row}"
