"""The Slack bot in HTTP mode with Gemini's webhooks: deliveries reach ``POST /gemini/webhooks`` on the bot's own
route (real uvicorn), and a research run's report is posted into its thread exactly once, even when Gemini
delivers twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.core import WEBHOOK_PATH
from server.emulator import Emulator, EmulatorHandle
from slack_bot.http import http_app
from tests.fakes.slack_api import FakeSlack
from tests.support.env import make_settings
from tests.support.slack import SignedSlack, is_report_summary, running_bot, slack_config, start_research
from tests.support.webhooks import loopback_socket, register, serve_asgi, until

pytestmark = pytest.mark.anyio


@pytest.fixture
def gemini(emulator: EmulatorHandle) -> Iterator[EmulatorHandle]:
    yield emulator
    emulator.emulator.webhooks.reset()


async def test_a_report_pushed_twice_is_posted_once(
    slack: FakeSlack, tmp_path: Path, gemini: EmulatorHandle
) -> None:
    emu: Emulator = gemini.emulator
    sock = loopback_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    secret = await register(make_settings(tmp_path / "data", gemini.url), base + WEBHOOK_PATH)
    settings = make_settings(
        tmp_path / "data",
        gemini.url,
        public_url=base,
        webhook_secret=secret,
        webhook_safety_poll_seconds=120.0,
    )
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
