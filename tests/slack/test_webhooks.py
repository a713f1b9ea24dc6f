"""The Slack bot in HTTP mode with Gemini's webhooks: deliveries reach ``POST /gemini/webhooks`` on the bot's own
route (real uvicorn), and a research run's report is posted into its thread exactly once, even when Gemini
delivers twice; a planned run's plan is shown with its buttons once and its report posted once, each pushed twice."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.core import WEBHOOK_PATH, Settings
from server.emulator import Emulator, EmulatorHandle
from slack_bot.http import http_app
from slack_bot.plan_view import CANCEL_ACTION, CHANGE_ACTION, RUN_ACTION
from tests.fakes.slack_api import Call, FakeSlack
from tests.support.env import make_settings
from tests.support.slack import SignedSlack, is_report_summary, running_bot, slack_config, start_research
from tests.support.webhooks import loopback_socket, register, serve_asgi, until

pytestmark = pytest.mark.anyio


@pytest.fixture
def gemini(emulator: EmulatorHandle) -> Iterator[EmulatorHandle]:
    yield emulator
    emulator.emulator.webhooks.reset()


async def webhook_settings(tmp_path: Path, gemini: EmulatorHandle, sock: socket.socket) -> Settings:
    """Settings for a bot whose webhook endpoint will be served on ``sock``, registered with the emulator."""
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    secret = await register(make_settings(tmp_path / "data", gemini.url), base + WEBHOOK_PATH)
    return make_settings(
        tmp_path / "data",
        gemini.url,
        public_url=base,
        webhook_secret=secret,
        webhook_safety_poll_seconds=120.0,
    )


def shows_plan_buttons(call: Call) -> bool:
    actions = [b for b in call.args.get("blocks") or [] if b.get("block_id") == "plan_actions"]
    return [e["action_id"] for b in actions for e in b["elements"]] == [
        RUN_ACTION,
        CHANGE_ACTION,
        CANCEL_ACTION,
    ]


async def test_a_planned_run_pushed_twice_shows_its_plan_once_and_reports_once(
    slack: FakeSlack, tmp_path: Path, gemini: EmulatorHandle
) -> None:
    emu: Emulator = gemini.emulator
    sock = loopback_socket()
    settings = await webhook_settings(tmp_path, gemini, sock)
    emu.webhooks.configure({"copies": 2})
    quick = "[emulator:plan_seconds=0.2][emulator:research_seconds=0.5]"
    async with running_bot(settings, slack_config(slack)) as bot, serve_asgi(http_app(bot), sock) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            signed = SignedSlack(http, slack)
            ts, job_id = await start_research(signed, slack, f"--plan tides {quick}")
            [shown] = await slack.wait_for("chat.update", 1, timeout=15, where=shows_plan_buttons)
            assert shown.args["ts"] == ts
            await until(
                lambda: len(emu.webhooks.deliveries()) >= 2, what="both copies of the plan's delivery"
            )
            await asyncio.sleep(0.5)
            assert len(slack.calls_to("chat.update", where=shows_plan_buttons)) == 1

            await signed.action(RUN_ACTION, job_id, user_id="U1", message_ts=ts)
            [summary] = await slack.wait_for("chat.postMessage", 1, timeout=15, where=is_report_summary)
            assert summary.args["thread_ts"] == ts
            await until(lambda: len(emu.webhooks.deliveries()) >= 4, what="both copies of the run's delivery")
            await asyncio.sleep(0.5)
        job = await bot.store.get_job(job_id)
    assert [r.status for r in emu.webhooks.deliveries()] == [200, 200, 200, 200]
    assert job is not None and job.status == "completed" and job.run_id
    assert len(slack.calls_to("chat.update", where=shows_plan_buttons)) == 1
    assert len(slack.calls_to("chat.postMessage", where=is_report_summary)) == 1
    for interaction in (job_id, job.run_id):  # no stream: created, then fetched once when pushed
        assert [r.kind for r in emu.stats.upstream_requests(interaction)] == ["create", "get"]


async def test_a_report_pushed_twice_is_posted_once(
    slack: FakeSlack, tmp_path: Path, gemini: EmulatorHandle
) -> None:
    emu: Emulator = gemini.emulator
    sock = loopback_socket()
    settings = await webhook_settings(tmp_path, gemini, sock)
    emu.webhooks.configure({"copies": 2})
    async with running_bot(settings, slack_config(slack)) as bot, serve_asgi(http_app(bot), sock) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            signed = SignedSlack(http, slack)
            ts, job_id = await start_research(signed, slack, "tides [emulator:research_seconds=0.8]")
            [summary] = await slack.wait_for("chat.postMessage", 1, timeout=15, where=is_report_summary)
            assert summary.args["thread_ts"] == ts
            await until(lambda: len(emu.webhooks.deliveries()) >= 2, what="both deliveries")
            await asyncio.sleep(0.5)
    assert [r.status for r in emu.webhooks.deliveries()] == [200, 200]
    assert len(slack.calls_to("chat.postMessage", where=is_report_summary)) == 1
    assert emu.stats.requests_for(job_id) == {"create": 1, "get": 1}
