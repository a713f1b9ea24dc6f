"""Slack's rate limits as Slack applies them (about one message per second per channel, 429 with a Retry-After
that can be long): nothing is lost or posted twice when Slack says wait, and progress edits coalesce instead of
queueing. The fake enforces the per-channel limit here (it is off elsewhere, to keep tests fast)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError

from server.emulator import EmulatorHandle
from slack_bot.app import build_client, build_delivery_client
from slack_bot.bot import SlackBot
from slack_bot.pacing import RateLimited
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_rules import SlackRules
from tests.support.env import make_settings
from tests.support.slack import (
    SignedSlack,
    is_report_summary,
    signed_bot,
    slack_config,
    start_research,
    user_message,
)

pytestmark = pytest.mark.anyio

ONE_PER_SECOND = SlackRules(post_interval_seconds=1.0)


async def test_the_clients_wait_out_a_channel_slack_holds_and_never_send_into_it() -> None:
    async with FakeSlack(rules=ONE_PER_SECOND) as strict:
        config = slack_config(strict)
        main = build_client(config)
        delivery = build_delivery_client(config, main.pacing)
        await main.chat_postMessage(channel="C1", text="one")
        with pytest.raises(SlackApiError) as refused:  # no patience: the 429 ends the call, and holds C1
            await delivery.chat_postMessage(channel="C1", text="two")
        assert refused.value.response.status_code == 429
        sent = len(strict.calls)
        with pytest.raises(RateLimited):  # C1 is held: not even sent
            await delivery.chat_postMessage(channel="C1", text="three")
        assert len(strict.calls) == sent
        started = time.monotonic()
        await main.chat_postMessage(channel="C1", text="four")  # waits out the hold, then posts
        assert time.monotonic() - started >= 0.5
        await delivery.chat_postMessage(channel="C2", text="elsewhere")  # other channels are not held
        assert [c.args["text"] for c in strict.calls if c.ok] == ["one", "four", "elsewhere"]


async def test_a_long_answer_in_a_busy_channel_arrives_whole_in_order_once(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    question = "\n\n".join(f"Paragraph {i}. " + "word " * 200 for i in range(30))  # three blocks' worth
    async with FakeSlack(rules=ONE_PER_SECOND) as slack:
        async with signed_bot(make_settings(tmp_path / "data", emulator.url), slack) as (_, signed):
            await signed.event(user_message(question, channel="D1"))
            await slack.wait_for("chat.postMessage", 3, where=lambda c: c.ok, timeout=30)
    refused = slack.calls_to("chat.postMessage", where=lambda c: c.status == 429)
    posted = slack.calls_to("chat.postMessage", where=lambda c: c.ok)
    assert refused, "Slack never said wait: the test proves nothing"
    assert len(posted) == 3
    texts = [c.args["blocks"][0]["text"] for c in posted]
    assert len(set(texts)) == 3
    joined = "\n".join(texts)
    order = [joined.index(f"Paragraph {i}.") for i in range(30)]
    assert order == sorted(order)


async def test_a_retry_after_longer_than_the_sdk_would_wait_loses_nothing(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    """slack_sdk's own handler retries a 429 twice, then gives up: the answer was lost. Now it waits."""
    slack.fail("chat.postMessage", status=429, retry_after="1", times=3)
    started = time.monotonic()
    await signed.event(user_message("patience", channel="D1"))
    [answer] = await slack.wait_for("chat.postMessage", 1, where=lambda c: c.ok, timeout=15)
    assert time.monotonic() - started >= 2.5
    assert len(slack.calls_to("chat.postMessage", where=lambda c: c.status == 429)) == 3
    assert len(slack.calls_to("chat.postMessage")) == 4 and "patience" in answer.args["text"]


async def test_a_report_in_a_busy_channel_is_delivered_once(emulator: EmulatorHandle, tmp_path: Path) -> None:
    async with FakeSlack(rules=ONE_PER_SECOND) as slack:
        async with signed_bot(make_settings(tmp_path / "data", emulator.url), slack) as (_, signed):
            # Other posts keep the channel busy while the report arrives.
            await start_research(signed, slack, "busy [emulator:research_seconds=0.3]")
            for n in range(3):
                await signed.command(f"question {n}")
            await slack.wait_for("files.completeUploadExternal", 1, timeout=30)
            await slack.wait_for("chat.postMessage", 1, where=is_report_summary, timeout=30)
            await slack.wait_for("chat.postMessage", 7, where=lambda c: c.ok, timeout=30)
    assert slack.calls_to("chat.postMessage", where=lambda c: c.status == 429)
    assert len(slack.calls_to("chat.postMessage", where=is_report_summary)) == 1
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    answers = slack.calls_to(
        "chat.postMessage", where=lambda c: c.ok and "You said" in c.args.get("text", "")
    )
    assert sorted(c.args["text"].split('"')[1] for c in answers) == ["question 0", "question 1", "question 2"]


async def test_progress_edits_coalesce_while_slack_makes_them_wait(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot
) -> None:
    """chat.update is held for 3 s while progress keeps coming (20 events in 2 s, ten progress windows): one
    edit follows the hold, where queued edits would be one per window."""
    ts, job_id = await start_research(signed, slack, "slow Slack [emulator:stuck]")
    before = len(slack.calls_to("chat.update"))
    slack.fail("chat.update", status=429, retry_after="3", times=1)
    for _ in range(20):
        bot.started_messages.progressed(job_id)
        await asyncio.sleep(0.1)
    await slack.wait_for("chat.update", before + 2, where=lambda c: c.args["ts"] == ts, timeout=10)
    await asyncio.sleep(2.0)  # time for any queued edit to show itself
    edits = slack.calls_to("chat.update", where=lambda c: c.args["ts"] == ts)[before:]
    assert edits[0].status == 429
    assert 2 <= len(edits) <= 3, [round(c.at - edits[0].at, 2) for c in edits]
    assert edits[1].at - edits[0].at >= 2.5  # the next edit waited for Slack
