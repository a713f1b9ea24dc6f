"""Deep Research from Slack: started message, live progress, the report delivered once into its thread,
status, cancel, who may see what, the App Home tab, and delivery that survives Slack's errors."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from slack_testkit import SignedSlack, eventually, make_settings, mention, slack_config

from server.core.domain import Origin, ResearchJob
from server.core.research import slack_destination
from server.core.service import Core
from server.core.store import PendingStart
from server.emulator import EmulatorHandle
from slack_bot.app import build_client, create_app
from slack_bot.bot import SlackBot
from slack_bot.render import CANCEL_ACTION, MARKDOWN_BUDGET, REPORT_EVENT_TYPE, TEXT_LIMIT, report_metadata
from slack_bot.research_runs import report_interrupted_starts
from tests.fakes.slack_api import Call, FakeSlack

pytestmark = pytest.mark.anyio


def _is_report_summary(call: Call) -> bool:
    return bool(call.ok and (call.args.get("metadata") or {}).get("event_type") == REPORT_EVENT_TYPE)


async def _start(signed: SignedSlack, slack: FakeSlack, topic: str, **kw: str) -> tuple[str, str]:
    """Run ``/gemini research <topic>``; return (started message ts, interaction id)."""
    await signed.command(f"research {topic}", **kw)
    [started] = await slack.wait_for("chat.postMessage", 1)
    ts = str(started.response["ts"])  # type: ignore[index]
    await slack.wait_for("chat.update", 1, where=lambda c: c.args["ts"] == ts and "ID `" in c.args["text"])
    job_id = slack.message(started.args["channel"], ts)["blocks"][1]["elements"][0]["value"]
    return ts, job_id


async def test_research_command_posts_progress_then_the_report_once(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot
) -> None:
    ts, job_id = await _start(signed, slack, "TPU history [emulator:research_seconds=1.5]")
    started = slack.calls_to("chat.postMessage")[0].args
    assert started["channel"] == "C1" and "<@U1> started research" in started["text"]
    # The started message shows the run id and a Cancel button while it runs.
    message = slack.message("C1", ts)
    button = message["blocks"][1]["elements"][0]
    assert button["action_id"] == CANCEL_ACTION and button["value"] == job_id.strip()

    [summary] = await slack.wait_for("chat.postMessage", 1, timeout=15, where=_is_report_summary)
    assert summary.args["thread_ts"] == ts
    assert summary.args["metadata"] == report_metadata(job_id, 0)
    assert len(summary.args["text"]) <= TEXT_LIMIT
    assert sum(len(b["text"]) for b in summary.args["blocks"]) <= MARKDOWN_BUDGET
    assert "Research finished" in summary.args["blocks"][0]["text"]

    [complete] = await slack.wait_for("files.completeUploadExternal", 1)
    assert complete.args["thread_ts"] == ts and complete.args["channel_id"] == "C1"
    [upload] = [u for u in slack.uploads.values() if u.completed]
    job = await bot.core.research.get(job_id, viewer=Origin(source="slack", owner="U1", team_id="T1"))
    assert upload.filename == f"gemini-research-{job_id}.md"
    assert upload.data.decode() == await anyio.Path(job.report_path or "").read_text()

    # Progress was shown on the started message, at a modest rate; finally it says "completed", no button.
    await slack.wait_until(
        lambda: "completed" in slack.message("C1", ts)["text"], timeout=5, what="final edit"
    )
    assert [b["type"] for b in slack.message("C1", ts)["blocks"]] == ["section"]
    edits = slack.calls_to("chat.update", where=lambda c: c.args["ts"] == ts)
    assert any("_Latest:_" in c.args["text"] for c in edits)
    assert len(edits) <= 2 + 1.5 / bot.config.progress_seconds + 2
    assert all(len(c.args["text"]) <= 4000 for c in edits)

    # The App Home tab of the user was refreshed with the run.
    views = await slack.wait_for("views.publish", 1)
    assert views[-1].args["user_id"] == "U1"

    # Replies in the thread now continue from the research run; and nothing is ever posted twice.
    assert await bot.store.get_thread("T1", "C1", ts) == job_id
    delivery = await bot.store.get_delivery(job_id, f"slack:T1:C1:{ts}")
    assert delivery is not None and delivery.state == "done"
    await bot.deliveries.sweep()
    assert await bot.deliveries.deliver(job_id, f"slack:T1:C1:{ts}") is False
    assert len(slack.calls_to("chat.postMessage", where=_is_report_summary)) == 1
    assert len(slack.calls_to("files.completeUploadExternal")) == 1


async def test_research_from_a_mention_reports_into_that_thread(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    event = mention("research: coral reefs [emulator:research_seconds=0.5]")
    await signed.event(event)
    [started] = await slack.wait_for("chat.postMessage", 1)
    assert started.args["thread_ts"] == event["ts"]
    [summary] = await slack.wait_for("chat.postMessage", 1, timeout=15, where=_is_report_summary)
    assert summary.args["thread_ts"] == event["ts"]
    [complete] = await slack.wait_for("files.completeUploadExternal", 1)
    assert complete.args["thread_ts"] == event["ts"]


async def test_the_charts_of_a_report_are_uploaded_after_it(signed: SignedSlack, slack: FakeSlack) -> None:
    ts, job_id = await _start(signed, slack, "reef charts [emulator:research_seconds=0.3] [emulator:chart]")
    await slack.wait_for("files.completeUploadExternal", 2, timeout=15)
    uploads = sorted((u for u in slack.uploads.values() if u.completed), key=lambda u: u.filename)
    assert [u.filename for u in uploads] == [
        f"gemini-research-{job_id}-1.png",
        f"gemini-research-{job_id}.md",
    ]
    chart = uploads[0]
    assert chart.data.startswith(b"\x89PNG") and chart.thread_ts == ts
    assert (chart.title or "").startswith("Chart 1: reef charts")


async def test_a_long_report_gets_a_short_summary_and_the_whole_file(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    await _start(signed, slack, "everything [emulator:research_seconds=0.3] [emulator:report_chars=60000]")
    [summary] = await slack.wait_for("chat.postMessage", 1, timeout=15, where=_is_report_summary)
    assert len(summary.args["blocks"][0]["text"]) < 4000
    await slack.wait_for("files.completeUploadExternal", 1)
    [upload] = [u for u in slack.uploads.values() if u.completed]
    assert len(upload.data) >= 60000
    assert f"{len(upload.data.decode()):,} characters" in summary.args["blocks"][0]["text"]


async def test_failed_runs_say_what_to_do_next(signed: SignedSlack, slack: FakeSlack) -> None:
    ts, _ = await _start(signed, slack, "doomed [emulator:fail] [emulator:research_seconds=0.3]")
    [summary] = await slack.wait_for("chat.postMessage", 1, timeout=15, where=_is_report_summary)
    text = summary.args["blocks"][0]["text"]
    assert "Research failed" in text and "/gemini research" in text
    await slack.wait_until(lambda: "failed" in slack.message("C1", ts)["text"], timeout=5)


async def test_cancel_button_only_for_the_user_who_started_it(signed: SignedSlack, slack: FakeSlack) -> None:
    ts, job_id = await _start(signed, slack, "forever [emulator:stuck]")
    await signed.action(CANCEL_ACTION, job_id, user_id="U2", message_ts=ts)
    [refused] = await slack.wait_for("response_url", 1)
    assert "Only the person who started" in refused.args["text"]
    assert refused.args.get("replace_original") is False

    await signed.action(CANCEL_ACTION, job_id, user_id="U1", message_ts=ts)
    responses = await slack.wait_for("response_url", 2)
    assert f"Cancelled research run `{job_id}`" in responses[1].args["text"]
    [summary] = await slack.wait_for("chat.postMessage", 1, timeout=10, where=_is_report_summary)
    assert "Research cancelled" in summary.args["blocks"][0]["text"]
    await slack.wait_until(lambda: "cancelled" in slack.message("C1", ts)["text"], timeout=5)


async def test_status_and_cancel_commands_respect_team_and_owner(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    _, job_id = await _start(signed, slack, "slow [emulator:stuck]")

    async def reply(text: str, **kw: str) -> str:
        before = len(slack.calls_to("response_url"))
        await signed.command(text, **kw)
        calls = await slack.wait_for("response_url", before + 1)
        return str(calls[-1].args["text"])

    listing = await reply("status")
    assert job_id in listing and "in progress" in listing
    detail = await reply(f"status {job_id}")
    assert job_id in detail and f"/gemini cancel {job_id}" in detail
    assert "No research run" in await reply(f"status {job_id}", team_id="T2")
    assert "no research runs" in await reply("status", team_id="T2", user_id="U1")
    assert "No research run" in await reply(f"cancel {job_id}", team_id="T2")
    assert "Only the person who started" in await reply(f"cancel {job_id}", user_id="U2")
    assert "Cancelled" in await reply(f"cancel {job_id}")
    assert "already ended" in await reply(f"cancel {job_id}")


async def test_help_is_an_ephemeral_ack(signed: SignedSlack, slack: FakeSlack) -> None:
    for text in ("help", "", "research"):
        response = await signed.command(text)
        body = response.json()
        assert body["response_type"] == "ephemeral" and "/gemini research <topic>" in body["text"]
    assert slack.calls_to("chat.postMessage") == []


async def test_app_home_lists_the_users_runs(signed: SignedSlack, slack: FakeSlack) -> None:
    _, job_id = await _start(signed, slack, "home tab topic [emulator:stuck]")
    await signed.event({"type": "app_home_opened", "user": "U9", "channel": "D9", "tab": "home"})
    [other] = await slack.wait_for("views.publish", 1, where=lambda c: c.args["user_id"] == "U9")
    assert job_id not in json.dumps(other.args["view"])  # someone else's home does not show it

    before = len(slack.calls_to("views.publish", where=lambda c: c.args["user_id"] == "U1"))
    await signed.event({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"})
    calls = await slack.wait_for("views.publish", before + 1, where=lambda c: c.args["user_id"] == "U1")
    view = json.dumps(slack.views["U1"])
    assert "home tab topic" in view and job_id in view and "/archives/C1/p" in view
    assert "in progress" in json.dumps(calls[-1].args["view"])


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


async def test_resuming_a_delivery_finds_parts_already_in_the_thread(
    slack: FakeSlack, settings: object, emulator: object
) -> None:
    """A worker that died after posting the summary but before recording it: the next one does not repost."""
    from slack_testkit import running_bot

    config = slack_config(slack, sweep_seconds=60.0)
    async with running_bot(settings, config) as bot:  # type: ignore[arg-type]
        parent = await bot.client.chat_postMessage(channel="C1", text="<@U1> started research: recovery")
        thread_ts = str(parent["ts"])
        origin = Origin(
            source="slack",
            owner="U1",
            team_id="T1",
            channel_id="C1",
            thread_ts=thread_ts,
            message_ts=thread_ts,
        )
        destination = slack_destination(origin)
        assert destination
        job = await bot.core.research.start("recovery [emulator:research_seconds=0.2]", origin=origin)
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
        [replies] = slack.calls_to("conversations.replies")
        assert replies.args["ts"] == thread_ts and replies.args["include_all_metadata"] in ("1", "true", True)
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
                owner="U1",
                team_id="T1",
                channel_id="C1",
                thread_ts=thread_ts,
                message_ts=thread_ts,
            )
            job = await core.research.start("slow Slack [emulator:research_seconds=0.2]", origin=origin)
            await slack.wait_for("files.completeUploadExternal", 1, timeout=20)
            destination = slack_destination(origin)
            assert destination

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
    from slack_testkit import running_bot

    lease = 2.0  # each post may take 1.5 s (the rest is the margin); the upload lands after 2.5 s
    settings = make_settings(tmp_path / "data", emulator.url, lease_seconds=lease)
    async with running_bot(settings, slack_config(slack)) as bot:  # type: ignore[arg-type]
        parent = await bot.client.chat_postMessage(channel="C1", text="<@U1> started research: lagging")
        thread_ts = str(parent["ts"])
        origin = Origin(
            source="slack",
            owner="U1",
            team_id="T1",
            channel_id="C1",
            thread_ts=thread_ts,
            message_ts=thread_ts,
        )
        destination = slack_destination(origin)
        assert destination
        slack.lag("files.completeUploadExternal", 2.5)
        job = await bot.core.research.start("lagging [emulator:research_seconds=0.2]", origin=origin)

        async def done() -> bool:
            delivery = await bot.store.get_delivery(job.interaction_id, destination)
            return delivery is not None and delivery.state == "done"

        await eventually(done, timeout=30, what="delivery done")
        # The delivery was cut off once and resumed with a look at the thread.
        assert slack.calls_to("conversations.replies")
        await slack.wait_until(lambda: slack.lagging == 0, timeout=10, what="the lagging upload to land")
    assert len(slack.calls_to("chat.postMessage", where=_is_report_summary)) == 1
    assert len(slack.calls_to("files.completeUploadExternal")) == 1


async def test_only_starts_whose_run_was_never_recorded_are_reported(slack: FakeSlack, bot: SlackBot) -> None:
    """The bot's sweep tells the user of a start cut short; a process that died just after recording the run
    (before forgetting the start) left nothing wrong, and a recent start may still be under way."""
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    messages = [await bot.client.chat_postMessage(channel="C1", text="Starting…") for _ in range(3)]
    lost, recorded, fresh = (str(m["ts"]) for m in messages)
    origin = Origin(
        source="slack", owner="U1", team_id="T1", channel_id="C1", thread_ts=recorded, message_ts=recorded
    )
    await bot.store.create_job(
        ResearchJob("v1_recorded", "topic", "agent", origin, "completed", created_at=long_ago)
    )
    for ts, when in ((lost, long_ago), (recorded, long_ago), (fresh, datetime.now(UTC))):
        await bot.store.add_pending_start(PendingStart("T1", "C1", ts, "U1", f"topic {ts}", when))

    [edit] = await slack.wait_for(
        "chat.update", 1, timeout=10, where=lambda c: "did not start" in c.args["text"]
    )
    assert edit.args["ts"] == lost and "*topic " in edit.args["text"]
    await asyncio.sleep(1.0)  # several more sweeps (0.3 s): told once, nothing else touched
    assert [c.args["ts"] for c in slack.calls_to("chat.update")] == [lost]
    assert [p.message_ts for p in await bot.store.stale_pending_starts(0)] == [fresh]
    assert await report_interrupted_starts(bot) == 0
