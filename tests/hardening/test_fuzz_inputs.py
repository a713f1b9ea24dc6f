"""Property-based fuzzing of what callers send: every MCP tool's arguments (in-memory ``mcp.Client``), the
research resource and the prompt, and ``/gemini`` command text (signed requests to the bot's real route).

Whatever comes in: no crash, no hang, a refusal that says what is wrong (a validation error names the argument),
and no traceback, internal error or secret in any reply. The servers run once per test in a blocking portal's
event loop; hypothesis drives them from the test thread.
"""

from __future__ import annotations

import itertools
import json
import string
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from server.core import MAX_PROMPT_CHARS, Core
from server.emulator import EmulatorHandle
from server.mcp.app import build_server
from server.mcp.errors import GENERIC_FAILURE
from slack_bot.app import build_client, create_app
from slack_bot.config import SlackConfig
from slack_bot.http import EVENTS_PATH, http_app
from slack_bot.render import SORRY
from tests.fakes.slack_api import FakeSlack, signed_headers, slash_command_body
from tests.support.env import make_settings
from tests.support.mcp import connect, text_of
from tests.support.tasks import drain_stray_tasks, other_tasks

API_KEY = "AIza-fuzz-SECRET-gemini-key-7f3a9c"
BOT_TOKEN = "xoxb-fuzz-SECRET-bot-token-51c2"
SIGNING_SECRET = "fuzz-SECRET-signing-secret-88d1"
SECRETS = (API_KEY, BOT_TOKEN, SIGNING_SECRET)
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
CALL_SECONDS = 30.0

# -- what callers might send ----------------------------------------------------------------------------------

WEIRD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\n\t",
        "\x00",
        "\U0001f600 émoji ünïcode",
        "\ud800 a lone surrogate",
        "\u202eevil rtl",
        "../../../../etc/passwd",
        "/etc/passwd",
        "~/.ssh/id_rsa",
        "C:\\Windows\\system32",
        "%s%s%s%n",
        "{}{0}{!r}",
        "'; DROP TABLE jobs; --",
        "<script>alert(1)</script>",
        "<@U123> <!channel> <#C1|general>",
        "```\ncode\n```",
        "[emulator:fail]",
        "x" * (MAX_PROMPT_CHARS + 1),
    ]
)
TEXT = st.one_of(WEIRD_TEXT, st.text(max_size=300), st.text(alphabet=string.printable, max_size=2000))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
INTS = st.one_of(st.integers(), st.integers(min_value=-5, max_value=60_000))


def _arguments(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the tool's arguments, each plausible or arbitrary JSON, sometimes with unknown keys."""
    plausible_or_not = {name: st.one_of(strategy, JSON) for name, strategy in fields.items()}
    return st.fixed_dictionaries({}, optional=plausible_or_not | {"unknown_key": JSON, "__proto__": JSON})


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    """The one folder HTTP callers may attach from; a symlink in it points outside."""
    root = tmp_path / "shared"
    root.mkdir()
    (root / "note.txt").write_text("a shared note")
    (tmp_path / "private.txt").write_text(f"not for callers {API_KEY}")
    (root / "link.txt").symlink_to(tmp_path / "private.txt")
    return root


def tool_arguments(root: Path, ids: list[str]) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    paths = st.one_of(
        st.sampled_from(
            [
                str(root / "note.txt"),
                str(root / "link.txt"),
                f"{root}/../private.txt",
                str(root),
                "note.txt",
                "/dev/zero",
                "/proc/self/environ",
            ]
        ),
        TEXT,
    )
    interaction_id = st.one_of(st.sampled_from(ids), TEXT, st.text(max_size=250))
    model = st.one_of(st.none(), st.sampled_from(["gemini-3.8-flash", "gemini-3.1-flash-image"]), TEXT)
    ask = {
        "prompt": TEXT,
        "model": model,
        "system_instruction": st.one_of(st.none(), TEXT),
        "tools": st.lists(
            st.sampled_from(["google_search", "url_context", "code_execution", "shell"]), max_size=4
        ),
        "response_schema": st.one_of(st.none(), JSON, st.just({"type": "object"})),
        "attachments": st.lists(paths, max_size=12),
    }
    return {
        "ask": _arguments(ask),
        "continue_thread": _arguments(ask | {"interaction_id": interaction_id}),
        "generate_image": _arguments(
            {
                "prompt": TEXT,
                "model": model,
                "aspect_ratio": st.one_of(st.sampled_from(["1:1", "16:9", "7:3", ""]), TEXT),
                "interaction_id": st.one_of(st.none(), interaction_id),
            }
        ),
        "start_research": _arguments(
            {
                "prompt": TEXT,
                "agent": st.one_of(st.none(), TEXT),
                "plan_first": st.one_of(st.booleans(), TEXT),
            }
        ),
        "approve_research": _arguments(
            {"interaction_id": interaction_id, "changes": st.one_of(st.none(), TEXT)}
        ),
        "research_status": _arguments({"interaction_id": interaction_id, "offset": INTS, "max_chars": INTS}),
        "cancel_research": _arguments({"interaction_id": interaction_id}),
        "list_research": _arguments(
            {"status": st.one_of(st.sampled_from(["completed", "in_progress", "nope"]), TEXT), "limit": INTS}
        ),
    }


# -- checks on every reply ---------------------------------------------------------------------------------------


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where}: a secret leaked: {text[:500]!r}"
    assert "Traceback" not in text and 'File "/' not in text, f"{where}: a traceback: {text[:500]!r}"


def assert_reply_is_sound(tool: str, arguments: dict[str, Any], result: Any) -> None:
    text = text_of(result)
    where = f"{tool}({json.dumps(arguments, default=str)[:300]})"
    assert_clean(text, where)
    assert_clean(json.dumps(result.structured_content or {}, default=str), where)
    if not result.is_error:
        return
    assert text.strip(), f"{where}: an error with no message"
    assert GENERIC_FAILURE.format(tool=tool) not in text, f"{where}: an unexpected failure: {text}"
    if "validation error" in text:
        # pydantic names the offending argument on the line after the summary
        named = text.split("\n")[1].split(".")[0].strip()
        assert named in arguments or named in {"prompt", "interaction_id"}, f"{where}: names nothing: {text}"


# -- MCP ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def mcp_portal(
    emulator: EmulatorHandle, tmp_path: Path, roots: Path
) -> Iterator[tuple[BlockingPortal, Client]]:
    settings_ = make_settings(
        tmp_path / "data", emulator.url, api_key=API_KEY, file_roots=str(roots), request_timeout_seconds=5.0
    )
    server = build_server(settings_, transport="http")
    with start_blocking_portal("asyncio") as portal:
        own = portal.call(other_tasks)
        try:
            with portal.wrap_async_context_manager(connect(server)) as client:
                yield portal, client
        finally:
            portal.call(drain_stray_tasks, own)


def _call(portal: BlockingPortal, client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    async def call() -> Any:
        with anyio.fail_after(CALL_SECONDS):
            return await client.call_tool(tool, arguments)

    return portal.call(call)


@pytest.mark.parametrize(
    "tool",
    [
        "ask",
        "continue_thread",
        "generate_image",
        "start_research",
        "approve_research",
        "research_status",
        "cancel_research",
        "list_research",
    ],
)
def test_fuzz_every_tool(mcp_portal: tuple[BlockingPortal, Client], roots: Path, tool: str) -> None:
    portal, client = mcp_portal
    first = _call(portal, client, "ask", {"prompt": "seed"})
    research = _call(portal, client, "start_research", {"prompt": "seed [emulator:research_seconds=0.2]"})
    ids = [first.structured_content["interaction_id"], research.structured_content["interaction_id"]]

    @FUZZ
    @given(arguments=tool_arguments(roots, ids)[tool])
    def check(arguments: dict[str, Any]) -> None:
        assert_reply_is_sound(tool, arguments, _call(portal, client, tool, arguments))

    check()
    # Still serving after all that.
    after = _call(portal, client, "ask", {"prompt": "still fine?"})
    assert not after.is_error, text_of(after)


def test_fuzz_research_resource_and_prompt(mcp_portal: tuple[BlockingPortal, Client]) -> None:
    portal, client = mcp_portal

    async def read(uri: str) -> str:
        with anyio.fail_after(CALL_SECONDS):
            try:
                result = await client.read_resource(uri)
            except Exception as exc:  # an MCP error answer: what the client raises for it
                return f"error: {exc}"
            return "\n".join(getattr(c, "text", "") for c in result.contents)

    async def prompt(company: Any) -> str:
        with anyio.fail_after(CALL_SECONDS):
            try:
                result = await client.get_prompt("competitive_intelligence", {"company": company})
            except Exception as exc:
                return f"error: {exc}"
            return "\n".join(getattr(m.content, "text", "") for m in result.messages)

    @FUZZ
    @given(identifier=TEXT, company=st.one_of(TEXT, st.text(max_size=20)))
    def check(identifier: str, company: str) -> None:
        body = portal.call(read, f"research://{identifier}")
        assert_clean(body, f"research://{identifier[:80]}")
        assert "unexpected" not in body.lower() or "No research job" in body, body[:300]
        assert_clean(portal.call(prompt, company), f"prompt({company[:80]!r})")

    check()


# -- Slack -------------------------------------------------------------------------------------------------------

COMMAND_TEXT = st.one_of(
    TEXT,
    st.tuples(
        st.sampled_from(["research", "image", "status", "cancel", "help", "RESEARCH", "Image"]), TEXT
    ).map(lambda parts: f"{parts[0]} {parts[1]}"),
    st.sampled_from(
        ["research", "image", "status", "cancel", "help", "status v1_unknown", "cancel v1_unknown"]
    ),
)


class SlackHarness:
    """The bot (real Core, real Bolt app and route) against the fake Slack, inside the portal's loop."""

    def __init__(self, slack: FakeSlack, http: httpx.AsyncClient) -> None:
        self.slack = slack
        self.http = http
        self.channels = itertools.count(1)

    async def command(self, text: str) -> tuple[httpx.Response, str]:
        channel = f"CFUZZ{next(self.channels)}"
        response_url = self.slack.response_url()
        text = text[:4000].encode("utf-8", "replace").decode()  # what can travel in a real request
        body = slash_command_body(text, channel_id=channel, response_url=response_url)
        headers = signed_headers(body, "application/x-www-form-urlencoded", secret=SIGNING_SECRET)
        with anyio.fail_after(CALL_SECONDS):
            response = await self.http.post(EVENTS_PATH, content=body.encode(), headers=headers)
        return response, channel

    async def settle(self, since: int, channel: str, acked: str) -> None:
        """Wait until the command got an answer of some kind, then until the bot has been quiet for a moment."""
        deadline = time.monotonic() + CALL_SECONDS
        response_count = len(self.slack.responses)

        def answered() -> bool:
            if acked.strip() or len(self.slack.responses) > response_count:
                return True
            return any(c.args.get("channel") == channel for c in self.slack.calls[since:])

        while not answered():
            assert time.monotonic() < deadline, f"no answer in {channel}: {self.slack.calls[since:]}"
            await anyio.sleep(0.02)
        seen = -1
        while seen != len(self.slack.calls):
            seen = len(self.slack.calls)
            await anyio.sleep(0.25)
            assert time.monotonic() < deadline + CALL_SECONDS, "the bot never went quiet"


@pytest.fixture
def slack_portal(emulator: EmulatorHandle, tmp_path: Path) -> Iterator[tuple[BlockingPortal, SlackHarness]]:
    settings_ = make_settings(tmp_path / "data", emulator.url, api_key=API_KEY)
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal("asyncio"))
        stack.callback(portal.call, drain_stray_tasks, portal.call(other_tasks))  # type: ignore[arg-type]  # portal.call is overloaded; mypy cannot pick one through callback()
        slack = stack.enter_context(portal.wrap_async_context_manager(FakeSlack(bot_token=BOT_TOKEN)))
        config = SlackConfig(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            app_token=None,
            api_url=slack.api_url,
            progress_seconds=0.2,
            sweep_seconds=0.3,
            retry_base_seconds=0.2,
        )
        core = stack.enter_context(portal.wrap_async_context_manager(Core.running(settings_)))
        bot = create_app(build_client(config), core, config)
        stack.enter_context(portal.wrap_async_context_manager(bot.running()))
        transport = httpx.ASGITransport(app=http_app(bot))
        http = stack.enter_context(
            portal.wrap_async_context_manager(
                httpx.AsyncClient(transport=transport, base_url="http://bot.test")
            )
        )
        yield portal, SlackHarness(slack, http)


def test_fuzz_gemini_command_text(slack_portal: tuple[BlockingPortal, SlackHarness]) -> None:
    portal, harness = slack_portal
    slack = harness.slack

    async def one(text: str) -> list[str]:
        since = len(slack.calls)
        response, channel = await harness.command(text)
        assert response.status_code == 200, (text[:80], response.status_code, response.text[:300])
        await harness.settle(since, channel, response.text)
        return [response.text] + [json.dumps(call.args, default=str) for call in slack.calls[since:]]

    @FUZZ
    @given(text=COMMAND_TEXT)
    def check(text: str) -> None:
        for reply in portal.call(one, text):
            assert_clean(reply, f"/gemini {text[:80]!r}")
            assert SORRY not in reply and "Something went wrong on my side" not in reply, (
                text[:80],
                reply[:400],
            )

    check()
    failed = [c for c in slack.calls if c.method.startswith("chat.") and not c.ok]
    assert not failed, [(c.method, c.response) for c in failed[:5]]
