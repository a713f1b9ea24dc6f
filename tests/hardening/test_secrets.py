"""Secrets never appear in logs, errors or replies.

The real console scripts run with distinctive secret values (every one contains ``SEKRIT``) at DEBUG, through
success and failure paths: a good and a rejected Gemini key, 429/5xx/malformed answers from Gemini, Slack's 429
and 5xx, requests without or with a wrong bearer token or signature, a revoked Slack token at start-up. Then
every captured stderr, every reply (tool results, HTTP bodies and headers, what the bot posted to Slack) and
every file in the data dir is searched for any part of a secret. The secrets legitimately travel only in the
headers that authenticate us to Gemini and Slack, which are not searched.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from server.emulator import EmulatorHandle, Faults
from tests.fakes.slack_api import FakeSlack, event_envelope, signed_headers, slash_command_body
from tests.support.env import REPO, SCRIPTS, free_port, host_env
from tests.support.mcp import http_client, text_of
from tests.support.processes import mcp_http_process, slack_http_process, stop_process

MARKER = "SEKRIT"
GEMINI_KEY = "AIzaSy-SEKRIT-gemini-key-0f9e8d7c6b5a"
BAD_GEMINI_KEY = "bad-SEKRIT-gemini-key-1a2b3c4d"  # the emulator rejects keys starting with "bad"
MCP_TOKEN = "mcp-SEKRIT-token-9a8b7c6d5e4f"
BOT_TOKEN = "xoxb-SEKRIT-bot-token-5e4d3c2b"
APP_TOKEN = "xapp-SEKRIT-app-token-1f2e3d4c"
SIGNING_SECRET = "SEKRIT-signing-secret-7c6b5a49"
DB_PASSWORD = "SEKRIT-db-password-3c2d1e0f"
LEAK = re.compile(MARKER, re.IGNORECASE)
FAST_RESEARCH = "[emulator:research_seconds=0.3]"


def assert_no_secret(text: str, where: str) -> None:
    match = LEAK.search(text)
    if match:
        start = max(0, match.start() - 200)
        raise AssertionError(f"a secret appears in {where}: …{text[start : match.end() + 100]!r}…")


def assert_data_dir_clean(data_dir: Path) -> None:
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert MARKER.encode() not in path.read_bytes().upper(), f"a secret is stored in {path}"


def _dump(result: Any) -> str:
    return text_of(result) + json.dumps(result.structured_content or {}, default=str)


# -- MCP ---------------------------------------------------------------------------------------------------------


async def _stdio_session(env: dict[str, str], errlog: Path, faults: Faults) -> list[str]:
    params = StdioServerParameters(
        command=str(SCRIPTS / "gemini-interactions-mcp"),
        args=["--log-level", "DEBUG"],
        env=env,
        cwd=str(REPO),
    )
    replies: list[str] = []
    with anyio.fail_after(90), errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err)) as client:

            async def call(tool: str, arguments: dict[str, Any]) -> Any:
                result = await client.call_tool(tool, arguments)
                replies.append(_dump(result))
                return result

            answer = await call("ask", {"prompt": "hello"})
            await call("generate_image", {"prompt": "a lighthouse"})
            faults.rate_limit(1, kind="create")
            await call("ask", {"prompt": "rate limited"})
            faults.server_error(500, 1, kind="create")
            await call(
                "continue_thread",
                {
                    "interaction_id": (answer.structured_content or {}).get("interaction_id", "x"),
                    "prompt": "5xx",
                },
            )
            faults.malformed_json(1, kind="create")
            await call("ask", {"prompt": "malformed"})
            await call("ask", {"prompt": "attach", "attachments": ["/no/such/file.png"]})
            started = await call("start_research", {"prompt": f"Lighthouses {FAST_RESEARCH}"})
            if not started.is_error:
                iid = started.structured_content["interaction_id"]
                faults.server_error(503, 2, kind="get")
                for _ in range(400):
                    status = await call("research_status", {"interaction_id": iid})
                    if status.structured_content["status"] != "in_progress":
                        break
                    await anyio.sleep(0.05)
                replies.append(str((await client.read_resource(f"research://{iid}")).contents))
            await call("research_status", {"interaction_id": "v1_unknown"})
    return replies


def test_mcp_over_stdio_never_shows_a_secret(
    emulator: EmulatorHandle, faults: Faults, tmp_path: Path
) -> None:
    replies: list[str] = []
    for name, key in (("good-key", GEMINI_KEY), ("bad-key", BAD_GEMINI_KEY)):
        env = host_env(
            GEMINI_API_KEY=key,
            GOOGLE_GEMINI_BASE_URL=emulator.url,
            GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / name),
            GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
            GEMINI_INTERACTIONS_MCP_TOKEN=MCP_TOKEN,  # unused on stdio, still a secret it holds
        )
        session = anyio.run(_stdio_session, env, tmp_path / f"{name}.log", faults)
        replies += session
        log = (tmp_path / f"{name}.log").read_text()
        assert "DEBUG" in log  # the run really logged at DEBUG
        assert_no_secret(log, f"the stdio server's stderr ({name})")
        assert_data_dir_clean(tmp_path / name)
    assert any("API key is not valid" in r for r in replies), replies  # the bad key path was taken
    assert any("rate limit" in r for r in replies) and any("server error (500" in r for r in replies)
    for reply in replies:
        assert_no_secret(reply, "a tool reply")


@pytest.mark.postgres
def test_mcp_over_http_never_shows_a_secret(
    emulator: EmulatorHandle, faults: Faults, tmp_path: Path, pg_url: str
) -> None:
    database_url = pg_url.replace("postgres@", f"postgres:{DB_PASSWORD}@")  # trust auth ignores it
    env = host_env(
        GEMINI_API_KEY=GEMINI_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        GEMINI_INTERACTIONS_DATABASE_URL=database_url,
        GEMINI_INTERACTIONS_MCP_TOKEN=MCP_TOKEN,
        GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
    )
    seen: list[str] = []
    with mcp_http_process(env, tmp_path / "server.log", "--log-level", "DEBUG") as server:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {MCP_TOKEN}x"}):
            response = httpx.post(server.url, json={}, headers=headers, timeout=10)
            assert response.status_code == 401
            seen.append(response.text + json.dumps(dict(response.headers)))

        async def session() -> None:
            with anyio.fail_after(60):
                async with http_client(server.url, MCP_TOKEN) as client:
                    seen.append(_dump(await client.call_tool("ask", {"prompt": "hi"})))
                    faults.rate_limit(1, kind="create")
                    seen.append(_dump(await client.call_tool("start_research", {"prompt": "limited"})))
                    faults.reset_connection(1, kind="create")
                    seen.append(_dump(await client.call_tool("ask", {"prompt": "reset"})))
                    started = await client.call_tool("start_research", {"prompt": f"Dams {FAST_RESEARCH}"})
                    seen.append(_dump(started))
                    iid = started.structured_content["interaction_id"]
                    for _ in range(400):
                        status = await client.call_tool("research_status", {"interaction_id": iid})
                        if status.structured_content["status"] != "in_progress":
                            break
                        await anyio.sleep(0.05)
                    seen.append(_dump(status))

        anyio.run(session)
        health = httpx.get(server.url.removesuffix("/mcp") + "/healthz", timeout=5)
        seen.append(health.text)
        # Protected-resource metadata is public: it must not carry the token either.
        metadata = httpx.get(
            server.url.removesuffix("/mcp") + "/.well-known/oauth-protected-resource/mcp", timeout=5
        )
        seen.append(metadata.text)
    log = server.output()
    assert "DEBUG" in log and "received SIGTERM" in log
    assert_no_secret(log, "the HTTP server's stderr")
    for reply in seen:
        assert_no_secret(reply, "an HTTP reply")
    assert any("rate limit" in s for s in seen) and any("Could not reach the Gemini API" in s for s in seen)
    assert_data_dir_clean(tmp_path / "data")


# -- Slack -------------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_slack() -> Iterator[tuple[BlockingPortal, FakeSlack]]:
    """The fake Slack in its own event loop thread, so that the test thread may block on subprocesses."""
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal("asyncio"))
        slack = stack.enter_context(
            portal.wrap_async_context_manager(FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN))
        )
        yield portal, slack


def _slack_env(slack: FakeSlack, emulator: EmulatorHandle, data_dir: Path, **extra: str) -> dict[str, str]:
    values = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "GEMINI_API_KEY": GEMINI_KEY,
        "GOOGLE_GEMINI_BASE_URL": emulator.url,
        "GEMINI_INTERACTIONS_DATA_DIR": str(data_dir),
        "GEMINI_INTERACTIONS_POLL_SECONDS": "0.05",
        "GEMINI_INTERACTIONS_SLACK_SWEEP_SECONDS": "0.3",
        "GEMINI_INTERACTIONS_SLACK_PROGRESS_SECONDS": "0.3",
    }
    return host_env(**(values | extra))


def _wait(predicate: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _posted(slack: FakeSlack) -> list[str]:
    """Everything the bot sent to Slack (arguments and bodies, not the authenticating headers)."""
    return [json.dumps(call.args, default=str) for call in list(slack.calls)] + [
        json.dumps(body, default=str) for body in list(slack.responses)
    ]


def _command(base: str, slack: FakeSlack, text: str, *, secret: str = SIGNING_SECRET) -> httpx.Response:
    body = slash_command_body(text, response_url=slack.response_url())
    headers = signed_headers(body, "application/x-www-form-urlencoded", secret=secret)
    return httpx.post(f"{base}/slack/events", content=body, headers=headers, timeout=10)


def test_slack_bot_over_http_never_shows_a_secret(
    fake_slack: tuple[BlockingPortal, FakeSlack], emulator: EmulatorHandle, faults: Faults, tmp_path: Path
) -> None:
    portal, slack = fake_slack
    env = _slack_env(slack, emulator, tmp_path / "data")
    replies: list[str] = []
    with slack_http_process(env, tmp_path / "bot.log", "--log-level", "DEBUG") as bot:
        forged = _command(bot.url, slack, "forged", secret="not-the-secret")
        assert forged.status_code == 401
        replies.append(forged.text + json.dumps(dict(forged.headers)))
        replies.append(_command(bot.url, slack, "hello there").text)
        _wait(lambda: len(slack.calls_to("chat.stopStream")) >= 1, "the answer")  # answers stream by default
        faults.rate_limit(1, kind="create")
        replies.append(_command(bot.url, slack, "rate limited please").text)
        _wait(lambda: any("rate limit" in p for p in _posted(slack)), "the rate-limit reply")
        slack.fail("chat.postMessage", status=429, times=1)
        slack.fail("chat.postMessage", status=500, times=1)
        replies.append(_command(bot.url, slack, f"research Canals {FAST_RESEARCH}").text)
        _wait(
            lambda: any("gemini_research_report" in p for p in _posted(slack)),
            "the report delivery",
            timeout=60,
        )
        replies.append(_command(bot.url, slack, "status").text)
        replies.append(_command(bot.url, slack, "cancel v1_nope").text)
        _wait(lambda: len(slack.responses) >= 2, "the status and cancel replies")
        said = {"type": "app_mention", "channel": "C1", "user": "U1", "text": "<@UBOT> hi", "ts": "1.000001"}
        portal.call(slack.user_event, said)  # the message is in the channel before Slack sends the event
        event = json.dumps(event_envelope(said))
        mention = httpx.post(
            f"{bot.url}/slack/events",
            content=event,
            headers=signed_headers(event, "application/json", secret=SIGNING_SECRET),
            timeout=10,
        )
        replies.append(mention.text)
        _wait(
            lambda: (
                sum(c.args.get("thread_ts") == "1.000001" for c in slack.calls_to("chat.startStream")) >= 1
            ),
            "the mention's answer",
        )
    log = bot.output()
    assert "DEBUG" in log
    assert_no_secret(log, "the bot's stderr")
    for reply in replies + _posted(slack):
        assert_no_secret(reply, "a reply or a Slack post")
    assert_data_dir_clean(tmp_path / "data")


def test_slack_socket_mode_and_a_rejected_token_never_show_a_secret(
    fake_slack: tuple[BlockingPortal, FakeSlack], emulator: EmulatorHandle, tmp_path: Path
) -> None:
    portal, slack = fake_slack
    env = _slack_env(slack, emulator, tmp_path / "data", SLACK_APP_TOKEN=APP_TOKEN)
    log = tmp_path / "socket.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [str(SCRIPTS / "gemini-interactions-slack"), "--log-level", "DEBUG"],
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
            env=env,
            cwd=REPO,
        )
    try:
        _wait(lambda: "Socket Mode, connected" in log.read_text() or proc.poll() is not None, "Socket Mode")
        assert proc.poll() is None, log.read_text()
        body = dict(
            urllib.parse.parse_qsl(slash_command_body("over the socket", response_url=slack.response_url()))
        )
        envelope = portal.call(slack.send_envelope, "slash_commands", body)
        _wait(lambda: envelope.acked.is_set(), "the ack")
        _wait(lambda: len(slack.calls_to("chat.stopStream")) >= 1, "the answer")  # answers stream by default
    finally:
        stop_process(proc)
    assert_no_secret(log.read_text(), "the Socket Mode bot's stderr")

    # A revoked bot token: what the bot says about it does not repeat the token.
    revoked = _slack_env(slack, emulator, tmp_path / "data2", SLACK_BOT_TOKEN=BOT_TOKEN + "-revoked")
    output = _revoked_start_up(revoked, tmp_path / "revoked.log")
    assert "invalid_auth" in output
    assert_no_secret(output, "the refused start-up")
    for reply in _posted(slack):
        assert_no_secret(reply, "a Slack post")


def _revoked_start_up(env: dict[str, str], log: Path) -> str:
    """Start the bot with a token Slack refuses; its output once it has been refused (it should exit by itself,
    see the next test; if it does not, it is stopped)."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [str(SCRIPTS / "gemini-interactions-slack"), "--port", str(free_port()), "--log-level", "DEBUG"],
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
            env=env,
            cwd=REPO,
        )
    try:
        _wait(lambda: "invalid_auth" in log.read_text() or proc.poll() is not None, "the refusal")
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return log.read_text()


def test_a_revoked_slack_token_ends_the_bot_with_one_clear_line(
    fake_slack: tuple[BlockingPortal, FakeSlack], emulator: EmulatorHandle, tmp_path: Path
) -> None:
    _portal, slack = fake_slack
    revoked = _slack_env(slack, emulator, tmp_path / "data", SLACK_BOT_TOKEN=BOT_TOKEN + "-revoked")
    code, output = _run_bounded(revoked, tmp_path / "bot.log", seconds=15)
    assert code == 1 and "Slack rejected SLACK_BOT_TOKEN (invalid_auth)" in output, output[-2000:]


def _run_bounded(env: dict[str, str], log: Path, *, seconds: float) -> tuple[int | None, str]:
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [str(SCRIPTS / "gemini-interactions-slack"), "--port", str(free_port())],
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
            env=env,
            cwd=REPO,
        )
    try:
        code: int | None = proc.wait(seconds)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return code, log.read_text()
