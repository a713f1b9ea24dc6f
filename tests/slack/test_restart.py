"""Exactly-once report delivery across a ``kill -9`` of the bot process (``gemini-interactions-slack``, HTTP
mode, SQLite under tmp_path, the emulator as Gemini, the fake as Slack)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import httpx
import pytest

from server.core.research.crash_points import CRASH_EXIT_CODE, CRASH_POINTS
from server.emulator import EmulatorHandle
from slack_bot.render import REPORT_EVENT_TYPE
from tests.fakes.slack_api import Call, FakeSlack, signed_headers, slash_command_body
from tests.support.slack_process import BotProcess, bot_process
from tests.support.slack_process import bot_env as _env
from tests.support.slack_process import slack_executable as _executable

pytestmark = pytest.mark.anyio


async def _command(bot: BotProcess, slack: FakeSlack, text: str) -> None:
    body = slash_command_body(text, response_url=slack.response_url())
    async with httpx.AsyncClient(base_url=bot.url) as http:
        response = await http.post(
            "/slack/events", content=body, headers=signed_headers(body, "application/x-www-form-urlencoded")
        )
    assert response.status_code == 200


def _summary(call: Call) -> bool:
    return bool(call.ok and (call.args.get("metadata") or {}).get("event_type") == REPORT_EVENT_TYPE)


async def _started(slack: FakeSlack) -> str:
    """The ts of the 'research started' message, once it shows the run id."""
    [started] = await slack.wait_for("chat.postMessage", 1, timeout=15)
    ts = str(started.response["ts"])
    await slack.wait_for(
        "chat.update", 1, timeout=15, where=lambda c: c.args["ts"] == ts and "ID `" in c.args["text"]
    )
    return ts


async def _settle(slack: FakeSlack, seconds: float) -> None:
    """Give a (wrong) second delivery every chance to happen: several sweeps and lease expiries."""
    await asyncio.sleep(seconds)


async def test_killed_mid_run_the_report_arrives_once_after_restart(
    slack: FakeSlack, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = _env(slack, emulator, tmp_path / "data")
    async with bot_process(env) as first:
        await _command(first, slack, "research resilience [emulator:research_seconds=3]")
        ts = await _started(slack)
        first.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(first.process.wait(), 10)
    assert slack.calls_to("chat.postMessage", where=_summary) == []

    async with bot_process(env) as second:
        [summary] = await slack.wait_for("chat.postMessage", 1, timeout=30, where=_summary)
        assert summary.args["thread_ts"] == ts
        await slack.wait_for("files.completeUploadExternal", 1, timeout=15)
        await _settle(slack, 2.5)
        assert second.process.returncode is None, second.log()
    assert len(slack.calls_to("chat.postMessage", where=_summary)) == 1
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    assert slack.calls_to("conversations.replies") == []  # a clean delivery needs no recovery


async def test_dying_between_post_and_record_does_not_post_twice(
    slack: FakeSlack, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = _env(slack, emulator, tmp_path / "data")
    crashing = env | {
        "GEMINI_INTERACTIONS_TEST_HOOKS": "1",
        "GEMINI_INTERACTIONS_SLACK_CRASH_AFTER_POST": "1",
    }
    async with bot_process(crashing) as first:
        await _command(first, slack, "research crash timing [emulator:research_seconds=0.5]")
        ts = await _started(slack)
        await slack.wait_for("chat.postMessage", 1, timeout=30, where=_summary)
        assert await asyncio.wait_for(first.process.wait(), 15) == 70, first.log()
    assert slack.calls_to("files.completeUploadExternal") == []  # it died before the file

    async with bot_process(env) as second:
        [complete] = await slack.wait_for("files.completeUploadExternal", 1, timeout=30)
        assert complete.args["thread_ts"] == ts
        await _settle(slack, 2.5)
        assert second.process.returncode is None, second.log()
        assert "were posted by an earlier attempt" in second.log()
    assert len(slack.calls_to("chat.postMessage", where=_summary)) == 1
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    [replies] = slack.calls_to("conversations.replies")
    assert replies.args["ts"] == ts


async def test_emulator_flag_and_graceful_shutdown(
    slack: FakeSlack, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = _env(slack, emulator, tmp_path / "data")
    for name in ("GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY"):
        del env[name]  # --emulator needs neither
    async with bot_process(env, "--emulator") as bot:
        assert any("EMULATOR MODE" in line for line in bot.lines), bot.log()
        await _command(bot, slack, "hello emulator")
        [answer] = await slack.wait_for("chat.stopStream", 1, timeout=15)  # answers stream in by default
        assert (
            'You said: "hello emulator"' in slack.message(answer.args["channel"], answer.args["ts"])["text"]
        )
        bot.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.process.wait(), 15) == 0, bot.log()
    assert not any("Traceback" in line for line in bot.lines), bot.log()


async def test_a_rejected_token_exits_with_a_clear_message(
    slack: FakeSlack, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = _env(slack, emulator, tmp_path / "data") | {"SLACK_BOT_TOKEN": "xoxb-revoked"}
    process = await asyncio.create_subprocess_exec(
        _executable(),
        "--port",
        "0",
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    text = err.decode()
    assert "Slack rejected SLACK_BOT_TOKEN (invalid_auth)" in text and "Traceback" not in text


@pytest.mark.parametrize("point", CRASH_POINTS)
async def test_a_start_cut_short_by_a_crash_is_reported_to_its_user(
    slack: FakeSlack, emulator: EmulatorHandle, tmp_path: Path, point: str
) -> None:
    """Killed at each point of a start (a test hook exits there, as kill -9 would): after the restart the
    'Starting…' message says the run may have started and to check usage, and the App Home lists it as start
    unknown with its prompt and the time it was begun."""
    env = _env(
        slack,
        emulator,
        tmp_path / "data",
        GEMINI_INTERACTIONS_REQUEST_TIMEOUT_SECONDS="1",  # a short start window: cut-short starts show soon
        GEMINI_INTERACTIONS_RESEARCH_RECORD_SECONDS="1",
    )
    crashing = env | {"GEMINI_INTERACTIONS_TEST_HOOKS": "1", "GEMINI_INTERACTIONS_TEST_CRASH_AT": point}
    creates = emulator.stats.by_kind["create"]
    async with bot_process(crashing) as first:
        await _command(first, slack, "research interrupted start")
        [started] = await slack.wait_for("chat.postMessage", 1, timeout=15)
        ts = str(started.response["ts"])
        assert await asyncio.wait_for(first.process.wait(), 15) == CRASH_EXIT_CODE, first.log()
    assert emulator.stats.by_kind["create"] == creates + (point != "before_create")
    # The run's id is logged the moment Gemini returns it, before any database write.
    assert ("Gemini started run v1_" in first.log()) == (point == "before_record"), first.log()

    def told(call: Call) -> bool:
        return call.args.get("ts") == ts and "may have started" in str(call.args.get("text"))

    async with bot_process(env) as second:
        [edit] = await slack.wait_for("chat.update", 1, timeout=20, where=told)
        assert "<@U1>" in edit.args["text"] and "aistudio.google.com/usage" in edit.args["text"]
        [home] = await slack.wait_for("views.publish", 1, timeout=10)
        await _settle(slack, 1.5)
        assert second.process.returncode is None, second.log()
    shown = json.dumps(home.args["view"])
    assert "start unknown" in shown and "interrupted start" in shown and "<!date^" in shown, shown
    assert "aistudio.google.com/usage" in shown
    assert len(slack.calls_to("chat.update", where=told)) == 1
