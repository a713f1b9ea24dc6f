"""The two ways Slack reaches the bot (HTTP under real uvicorn, Socket Mode), and start-up errors."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest
import uvicorn

from server.core import configuration_error
from server.emulator import EmulatorHandle
from slack_bot.cli import main, socket_mode_handler
from slack_bot.config import SlackConfig, normalise_api_url
from slack_bot.http import http_app
from tests.fakes.slack_api import FakeSlack, event_envelope, signed_headers, slash_command_body
from tests.support.env import make_settings
from tests.support.slack import running_bot, slack_config, user_message

pytestmark = pytest.mark.anyio


async def test_http_mode_under_real_uvicorn(
    slack: FakeSlack, tmp_path: Path, emulator: EmulatorHandle
) -> None:
    async with running_bot(make_settings(tmp_path / "data", emulator.url), slack_config(slack)) as bot:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(http_app(bot), log_config=None, access_log=False, lifespan="off")
        )
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                assert time.monotonic() < deadline and not serving.done(), "uvicorn did not start"
                await asyncio.sleep(0.02)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                assert (await http.get("/healthz")).json()["ok"] is True
                body = slash_command_body("hello over TCP", response_url=slack.response_url())
                headers = signed_headers(body, "application/x-www-form-urlencoded")
                started = time.perf_counter()
                response = await http.post("/slack/events", content=body, headers=headers)
                assert response.status_code == 200 and time.perf_counter() - started < 1.0
                bad = await http.post(
                    "/slack/events", content=body, headers=headers | {"x-slack-signature": "v0=0"}
                )
                assert bad.status_code == 401
            posts = await slack.wait_for("chat.postMessage", 2)
            assert 'You said: "hello over TCP"' in posts[1].args["blocks"][0]["text"]
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, 10)
            sock.close()


async def test_socket_mode_acks_and_answers(
    slack: FakeSlack, tmp_path: Path, emulator: EmulatorHandle
) -> None:
    config = slack_config(slack, app_token=slack.app_token, signing_secret=None)
    async with running_bot(make_settings(tmp_path / "data", emulator.url), config) as bot:
        handler = socket_mode_handler(bot)
        await handler.connect_async()
        try:
            opened = await slack.wait_for("apps.connections.open", 1)
            assert opened[0].headers["Authorization"] == f"Bearer {slack.app_token}"
            body = slash_command_body("hi over a socket", response_url=slack.response_url())
            envelope = await slack.send_envelope("slash_commands", dict(urllib.parse.parse_qsl(body)))
            await asyncio.wait_for(envelope.acked.wait(), 3)
            posts = await slack.wait_for("chat.postMessage", 2)
            assert posts[0].args["text"] == "<@U1> asked: hi over a socket"

            # The same event twice (Slack redelivers after a reconnect): acked twice, answered once.
            event = user_message("a DM over the socket", channel="D1")
            first = await slack.send_envelope("events_api", event_envelope(event, event_id="Ev-sock-1"))
            again = await slack.send_envelope("events_api", event_envelope(event, event_id="Ev-sock-1"))
            await asyncio.wait_for(first.acked.wait(), 3)
            await asyncio.wait_for(again.acked.wait(), 3)
            await slack.send_envelope("events_api", event_envelope(user_message("last", channel="D1")))
            await slack.wait_for("chat.postMessage", 2, where=lambda c: c.args["channel"] == "D1")
            await slack.wait_for("chat.postMessage", 1, where=lambda c: '"last"' in c.args["text"])
            texts = [c.args["text"] for c in slack.calls_to("chat.postMessage")]
            assert sum("a DM over the socket" in t for t in texts) == 1
        finally:
            await handler.close_async()


def test_missing_tokens_are_named_at_start_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN" in err and "SLACK_SIGNING_SECRET" in err and "slack_manifest.yaml" in err

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    with pytest.raises(SystemExit):
        main([])
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN" not in err and "SLACK_SIGNING_SECRET" in err

    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    with pytest.raises(SystemExit):
        main([])
    assert "xoxb-" in capsys.readouterr().err


def test_config_from_env() -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_APP_TOKEN": "xapp-1",
        "SLACK_API_URL": "http://127.0.0.1:9/api",
    }
    config = SlackConfig.from_env(env)
    assert config.socket_mode and config.api_url == "http://127.0.0.1:9/api/"
    assert normalise_api_url(None) == "https://slack.com/api/"
    hooked = SlackConfig.from_env(env | {"GEMINI_INTERACTIONS_SLACK_CRASH_AFTER_POST": "1"})
    assert hooked.crash_after_post is False  # honoured only together with GEMINI_INTERACTIONS_TEST_HOOKS=1
    assert json.dumps(config.progress_seconds) == "10.0"


async def test_a_rejected_bot_token_stops_start_up(
    slack: FakeSlack, tmp_path: Path, emulator: EmulatorHandle
) -> None:
    config = slack_config(slack, bot_token="xoxb-revoked")
    with pytest.raises(BaseException) as raised:
        async with running_bot(make_settings(tmp_path / "data", emulator.url), config):
            pass
    problem = configuration_error(raised.value)
    assert problem is not None and "Slack rejected SLACK_BOT_TOKEN (invalid_auth)" in str(problem)
