"""Slack answers as Gemini works today: a long answer in continuation hops is posted whole, once, with its usage
summed; a retired model setting is named as the cause, with the setting to change."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest

from server.emulator import EmulatorHandle
from slack_bot.bot import SlackBot
from slack_bot.http import http_app
from tests.fakes.slack_api import FakeSlack
from tests.support.env import make_settings
from tests.support.slack import SignedSlack, mention, running_bot, slack_config

pytestmark = pytest.mark.anyio


async def test_a_three_hop_answer_is_posted_whole_once_with_summed_usage(
    signed: SignedSlack,
    slack: FakeSlack,
    bot: SlackBot,
    emulator: EmulatorHandle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="server.core.gateway")
    asked = mention("Tell me a long story [emulator:hops=3]")
    await signed.event(asked)
    [post] = await slack.wait_for("chat.postMessage", 1)
    posted = post.args["blocks"][0]["text"]
    assert posted.count('You said: "Tell me a long story [emulator:hops=3]"') == 1
    assert posted.count("Answered by gemini-flash-latest.") == 1
    assert "stopped before the end" not in posted

    last = await bot.store.get_thread("T1", "C1", asked["ts"])
    assert last is not None
    hops = [emulator.emulator.interaction(last)]
    while len(hops) < 3:
        hops.insert(0, emulator.emulator.interaction(hops[0]["previous_interaction_id"]))
    assert [h["status"] for h in hops] == ["requires_continuation", "requires_continuation", "completed"]
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"answer {last} ")]
    parts, tokens = re.search(r"(\d+) part\(s\), (\d+) tokens", line).groups()
    assert int(parts) == 3 and int(tokens) == sum(h["usage"]["total_tokens"] for h in hops)


async def test_a_retired_model_setting_is_named_in_slack(
    slack: FakeSlack, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data", emulator.url, model="gemini-0-retired")
    async with running_bot(settings, slack_config(slack)) as bot:
        transport = httpx.ASGITransport(app=http_app(bot))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            await SignedSlack(client, slack).command("What is a TPU?")
            posts = await slack.wait_for("chat.postMessage", 2)
    reply = posts[1].args["text"]
    assert "does not know the model 'gemini-0-retired'" in reply
    assert "GEMINI_INTERACTIONS_MODEL" in reply and "gemini-flash-latest" in reply


async def test_an_answer_that_still_stops_early_says_so(signed: SignedSlack, slack: FakeSlack) -> None:
    await signed.event(mention("Everything [emulator:hops=12]"))
    [post] = await slack.wait_for("chat.postMessage", 1)
    assert "stopped before the end of this answer" in post.args["blocks"][0]["text"]


async def test_the_thinking_level_setting_applies_in_slack(
    slack: FakeSlack, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data", emulator.url, thinking_level="low")
    async with running_bot(settings, slack_config(slack)) as bot:
        transport = httpx.ASGITransport(app=http_app(bot))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            await SignedSlack(client, slack).event(mention("Quick?"))
            [post] = await slack.wait_for("chat.postMessage", 1)
    assert "Thinking level: low" in post.args["blocks"][0]["text"]
