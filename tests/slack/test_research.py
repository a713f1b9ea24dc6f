"""Deep Research from Slack: started message, live progress, the report delivered once into its thread,
status, cancel, who may see what, the App Home tab, and delivery that survives Slack's errors."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from server.core.domain import Origin, ResearchJob
from server.core.store import PendingStart
from slack_bot.bot import SlackBot
from slack_bot.interrupted import report_interrupted_starts
from slack_bot.markdown import MARKDOWN_BUDGET, TEXT_LIMIT
from slack_bot.render import CANCEL_ACTION, report_metadata
from tests.fakes.slack_api import FakeSlack
from tests.support.slack import SignedSlack, mention
from tests.support.slack import is_report_summary as _is_report_summary
from tests.support.slack import start_research as _start

pytestmark = pytest.mark.anyio


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
    job = await bot.core.research.get(
        job_id, viewer=Origin(source="slack", owner="slack:T1:U1", team_id="T1")
    )
    assert job.origin.owner == "slack:T1:U1" and job.origin.slack_user == "U1"
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

    async def reply(text: str, **kw: Any) -> str:
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


async def test_only_starts_whose_run_was_never_recorded_are_reported(slack: FakeSlack, bot: SlackBot) -> None:
    """The bot's sweep tells the user of a start cut short; a process that died just after recording the run
    (before forgetting the start) left nothing wrong, and a recent start may still be under way."""
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    messages = [await bot.client.chat_postMessage(channel="C1", text="Starting…") for _ in range(3)]
    lost, recorded, fresh = (str(m["ts"]) for m in messages)
    origin = Origin(
        source="slack",
        owner="slack:T1:U1",
        team_id="T1",
        channel_id="C1",
        thread_ts=recorded,
        message_ts=recorded,
    )
    await bot.store.create_job(
        ResearchJob("v1_recorded", "topic", "agent", origin, "completed", created_at=long_ago)
    )
    for ts, when in ((lost, long_ago), (recorded, long_ago), (fresh, datetime.now(UTC))):
        await bot.store.add_pending_start(PendingStart("T1", "C1", ts, "U1", f"topic {ts}", when))

    [edit] = await slack.wait_for(
        "chat.update", 1, timeout=10, where=lambda c: "may have started" in c.args["text"]
    )
    assert edit.args["ts"] == lost and "*topic " in edit.args["text"]
    assert "aistudio.google.com/usage" in edit.args["text"]  # what to check before starting it again
    await asyncio.sleep(1.0)  # several more sweeps (0.3 s): told once, nothing else touched
    assert [c.args["ts"] for c in slack.calls_to("chat.update")] == [lost]
    assert [p.message_ts for p in await bot.store.stale_pending_starts(0)] == [fresh]
    assert await report_interrupted_starts(bot) == 0
