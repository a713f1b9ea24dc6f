"""A finished run's report reaches its Slack thread exactly once: Slack's 429s and 5xx are retried with backoff,
a delivery that keeps failing is given up, and a delivery resumed after a crash, held up by Slack or cut off in
flight never posts a part twice (the fake as Slack, the emulator as Gemini, the real core and bot)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from server.core import Core
from server.core.domain import Origin
from server.emulator import EmulatorHandle
from slack_bot.app import build_client, create_app
from slack_bot.bot import SlackBot
from slack_bot.destinations import slack_destination
from tests.fakes.slack_api import FakeSlack
from tests.support.env import make_settings
from tests.support.slack import SignedSlack, eventually, running_bot, slack_config, user_message
from tests.support.slack import is_report_summary as _is_report_summary
from tests.support.slack import start_research as _start

pytestmark = pytest.mark.anyio


async def test_a_slack_429_on_the_report_is_retried(signed: SignedSlack, slack: FakeSlack) -> None:
    await _start(signed, slack, "rate limits [emulator:research_seconds=0.3]")
    slack.fail("chat.postMessage", status=429, retry_after="0")
    await slack.wait_for("chat.postMessage", 1, timeout=15, where=_is_report_summary)
    assert slack.calls_to("chat.postMessage", where=lambda c: c.status == 429)
    await slack.wait_for("files.completeUploadExternal", 1)
    assert len(slack.calls_to("chat.postMessage", where=_is_report_summary)) == 1


async def test_slack_5xx_during_delivery_is_retried_with_backoff(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot
) -> None:
    ts, job_id = await _start(signed, slack, "outage [emulator:research_seconds=0.3]")
    # More 500s than the client's own retries absorb: the delivery attempt fails and is retried later.
    slack.fail("files.getUploadURLExternal", status=500, times=4)
    await slack.wait_for("files.completeUploadExternal", 1, timeout=15)
    destination = f"slack:T1:C1:{ts}"

    async def done() -> bool:
        delivery = await bot.store.get_delivery(job_id, destination)
        return delivery is not None and delivery.state == "done"

    await eventually(done, what="delivery done")
    delivery = await bot.store.get_delivery(job_id, destination)
    assert delivery is not None and delivery.attempts >= 1
    # The summary, posted by the first attempt, was not posted again by the retry.
    assert len(slack.calls_to("chat.postMessage", where=_is_report_summary)) == 1


async def test_a_delivery_that_keeps_failing_is_given_up(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    ts, job_id = await _start(signed, slack, "lost cause [emulator:research_seconds=0.3]")
    slack.fail("chat.postMessage", status=200, error="channel_not_found", times=1)
    destination = f"slack:T1:C1:{ts}"
    await slack.wait_until(
        lambda: any("giving up on delivering" in r.getMessage() for r in caplog.records), timeout=15
    )
    delivery = await bot.store.get_delivery(job_id, destination)
    assert (
        delivery is not None
        and delivery.state == "failed"
        and "channel_not_found" in (delivery.last_error or "")
    )
    assert delivery.attempts == 1  # waiting would not bring the channel back


async def test_retries_stop_at_the_limit(
    signed: SignedSlack,
    slack: FakeSlack,
    bot: SlackBot,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr("slack_bot.delivery.MAX_ATTEMPTS", 2)
    ts, job_id = await _start(signed, slack, "unreachable [emulator:research_seconds=0.5]")
    slack.fail("chat.postMessage", status=503, times=1000)
    await slack.wait_until(
        lambda: any("giving up on delivering" in r.getMessage() for r in caplog.records), timeout=20
    )
    delivery = await bot.store.get_delivery(job_id, f"slack:T1:C1:{ts}")
    assert delivery is not None and delivery.state == "failed" and delivery.attempts == 2
    assert "503" in (delivery.last_error or "")
    assert not slack.calls_to("chat.postMessage", where=_is_report_summary)


@pytest.mark.parametrize("people_replies", [0, 250], ids=["quiet thread", "busy thread, two pages"])
async def test_resuming_a_delivery_finds_parts_already_in_the_thread(
    slack: FakeSlack, settings: object, emulator: object, people_replies: int
) -> None:
    """A worker that died after posting the summary but before recording it: the next one does not repost,
    even when people's replies push the summary onto the second page of conversations.replies."""
    config = slack_config(slack, sweep_seconds=60.0)
    async with running_bot(settings, config) as bot:  # type: ignore[arg-type]  # the settings fixture, typed loosely
        parent = await bot.client.chat_postMessage(channel="C1", text="<@U1> started research: recovery")
        thread_ts = str(parent["ts"])
        for n in range(people_replies):
            slack.user_event(user_message(f"reply {n}", thread_ts=thread_ts))
        origin = Origin(
            source="slack",
            owner="slack:T1:U1",
            team_id="T1",
            channel_id="C1",
            thread_ts=thread_ts,
            message_ts=thread_ts,
        )
        destination = slack_destination(origin)
        assert destination
        job = await bot.core.research.start(
            "recovery [emulator:research_seconds=0.2]", origin=origin, destinations=[destination]
        )
        await slack.wait_for("chat.postMessage", 1, timeout=15, where=_is_report_summary)
        await slack.wait_for("files.completeUploadExternal", 1)
        # Forge the crash: the delivery is claimable again and its record says posting had begun, not what.

        async def done() -> bool:
            delivery = await bot.store.get_delivery(job.interaction_id, destination)
            return delivery is not None and delivery.state == "done"

        await eventually(done, what="first delivery done")
        async with bot.store.engine.begin() as conn:
            from sqlalchemy import text

            await conn.execute(
                text(
                    "UPDATE deliveries SET state='pending', progress=:p, claimed_by=NULL, claim_expires_at=NULL"
                ),
                {"p": json.dumps({"attempt": 1, "posted": {}})},
            )
        assert await bot.deliveries.deliver(job.interaction_id, destination) is True
        replies = slack.calls_to("conversations.replies")
        assert len(replies) == 1 + people_replies // 200  # one page per 200 messages
        assert replies[0].args["ts"] == thread_ts and replies[0].args["include_all_metadata"] in (
            "1",
            "true",
            True,
        )
        assert len(slack.calls_to("chat.postMessage", where=_is_report_summary)) == 1
        assert len(slack.calls_to("files.completeUploadExternal")) == 1


async def test_a_delivery_held_up_by_slack_is_not_posted_twice_by_another_replica(
    slack: FakeSlack, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Two bots on one store: the one that claims the delivery is told to wait longer than its claim lasts."""
    settings = make_settings(tmp_path / "data", emulator.url, lease_seconds=1.0)
    config = slack_config(slack)
    async with Core.running(settings) as core:
        first = create_app(build_client(config), core, config)
        second = create_app(build_client(config), core, config)
        async with first.running(), second.running():
            parent = await first.client.chat_postMessage(
                channel="C1", text="<@U1> started research: slow Slack"
            )
            thread_ts = str(parent["ts"])
            slack.fail("files.getUploadURLExternal", status=429, retry_after="3")
            origin = Origin(
                source="slack",
                owner="slack:T1:U1",
                team_id="T1",
                channel_id="C1",
                thread_ts=thread_ts,
                message_ts=thread_ts,
            )
            destination = slack_destination(origin)
            assert destination
            job = await core.research.start(
                "slow Slack [emulator:research_seconds=0.2]", origin=origin, destinations=[destination]
            )
            await slack.wait_for("files.completeUploadExternal", 1, timeout=20)

            async def done() -> bool:
                delivery = await core.store.get_delivery(job.interaction_id, destination)
                return delivery is not None and delivery.state == "done"

            await eventually(done, timeout=10, what="delivery done")
            await asyncio.sleep(4.0)  # past the Retry-After: whoever was told to wait has woken up
    assert len(slack.calls_to("chat.postMessage", where=_is_report_summary)) == 1
    assert len(slack.calls_to("files.completeUploadExternal")) == 1


async def test_a_post_cut_off_in_flight_is_found_later_not_posted_twice(
    slack: FakeSlack, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """The report file's upload reaches Slack but is carried out after the claim's window closed: the next
    attempt must wait for it to land and find it, not read the thread at once and upload the file again."""
    lease = 2.0  # each post may take 1.5 s (the rest is the margin); the upload lands after 2.5 s
    settings = make_settings(tmp_path / "data", emulator.url, lease_seconds=lease)
    async with running_bot(settings, slack_config(slack)) as bot:
        parent = await bot.client.chat_postMessage(channel="C1", text="<@U1> started research: lagging")
        thread_ts = str(parent["ts"])
        origin = Origin(
            source="slack",
            owner="slack:T1:U1",
            team_id="T1",
            channel_id="C1",
            thread_ts=thread_ts,
            message_ts=thread_ts,
        )
        destination = slack_destination(origin)
        assert destination
        slack.lag("files.completeUploadExternal", 2.5)
        job = await bot.core.research.start(
            "lagging [emulator:research_seconds=0.2]", origin=origin, destinations=[destination]
        )

        async def done() -> bool:
            delivery = await bot.store.get_delivery(job.interaction_id, destination)
            return delivery is not None and delivery.state == "done"

        await eventually(done, timeout=30, what="delivery done")
        # The delivery was cut off once and resumed with a look at the thread.
        assert slack.calls_to("conversations.replies")
        await slack.wait_until(lambda: slack.lagging == 0, timeout=10, what="the lagging upload to land")
    assert len(slack.calls_to("chat.postMessage", where=_is_report_summary)) == 1
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
