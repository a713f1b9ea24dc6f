"""Plan first in Slack: `/gemini research --plan` shows the agent's plan with Run it / Change… / Cancel on the
run's message; only the starter may press them (others are told who may), a click on a plan already run or
cancelled says so, two clicks at once run it once, a click or submission replayed is taken once, the Change…
modal's edits reach the run's input, the plan survives a restart of the bot, and the report is delivered once
into the thread it came from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from server.core import Settings
from server.core.domain import Origin, ResearchJob
from server.emulator import EmulatorHandle
from slack_bot.bot import SlackBot
from slack_bot.config import SlackConfig
from slack_bot.http import http_app
from slack_bot.plan_view import (
    BRIEF_BLOCK,
    BRIEF_INPUT,
    CANCEL_ACTION,
    CHANGE_ACTION,
    CHANGE_VIEW,
    RUN_ACTION,
    change_modal,
    plan_flag,
)
from slack_bot.render import research_message
from tests.fakes.slack_api import FakeSlack, block_action_body, view_submission_body
from tests.support.slack import SignedSlack, mention, running_bot, slack_config
from tests.support.slack import is_report_summary as _is_report_summary
from tests.support.slack import start_research as _start

pytestmark = pytest.mark.anyio

QUICK = "[emulator:research_seconds=0.5][emulator:plan_seconds=0.1]"
U1 = Origin(source="slack", owner="slack:T1:U1", team_id="T1")


def plan_buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"]
        for b in message["blocks"]
        if b.get("block_id") == "plan_actions"
        for e in b["elements"]
    ]


async def wait_for_plan(slack: FakeSlack, ts: str) -> dict[str, Any]:
    await slack.wait_until(lambda: bool(plan_buttons(slack.message("C1", ts))), timeout=15, what="the plan")
    return slack.message("C1", ts)


async def said(slack: FakeSlack, count: int) -> str:
    """The text of the ``count``-th private reply (response_url) so far."""
    calls = await slack.wait_for("response_url", count)
    assert calls[count - 1].args.get("response_type") == "ephemeral"
    assert calls[count - 1].args.get("replace_original") is False
    return str(calls[count - 1].args["text"])


def runs_of(emulator: EmulatorHandle, job_id: str) -> list[dict[str, Any]]:
    return [b for b in emulator.emulator.received_bodies() if b.get("previous_interaction_id") == job_id]


@asynccontextmanager
async def signed_for(bot: SlackBot, slack: FakeSlack) -> AsyncIterator[SignedSlack]:
    transport = httpx.ASGITransport(app=http_app(bot))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        yield SignedSlack(client, slack)


async def test_plan_then_run_it_reports_once_into_the_thread(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot, emulator: EmulatorHandle
) -> None:
    ts, job_id = await _start(signed, slack, f"--plan Tidal lagoons {QUICK}")
    message = await wait_for_plan(slack, ts)
    assert plan_buttons(message) == [RUN_ACTION, CHANGE_ACTION, CANCEL_ACTION]
    assert any("Research plan: Tidal lagoons" in b.get("text", "") for b in message["blocks"])
    assert "plan awaiting approval" in message["text"] and "*Run it*" in message["text"]
    assert runs_of(emulator, job_id) == []

    await signed.action(RUN_ACTION, job_id, user_id="U2", message_ts=ts)
    assert await said(slack, 1) == ":no_entry: Only <@U1> can run this plan."
    await signed.action(RUN_ACTION, job_id, user_id="U1", message_ts=ts)
    await slack.wait_until(
        lambda: "Plan approved as proposed" in slack.message("C1", ts)["text"], timeout=10, what="approval"
    )
    [summary] = await slack.wait_for("chat.postMessage", 1, timeout=20, where=_is_report_summary)
    assert summary.args["thread_ts"] == ts and "Research finished" in summary.args["blocks"][0]["text"]
    [upload] = await slack.wait_for("files.completeUploadExternal", 1)
    assert upload.args["thread_ts"] == ts

    await signed.action(RUN_ACTION, job_id, user_id="U1", message_ts=ts)
    assert "This plan already ran (completed)" in await said(slack, 2)
    job = await bot.core.research.get(job_id, viewer=U1)
    assert job.status == "completed" and job.run_id and len(runs_of(emulator, job_id)) == 1
    assert await bot.store.get_thread("T1", "C1", ts) == job.run_id  # replies continue from the report
    await bot.deliveries.sweep()
    await asyncio.sleep(0.5)
    assert len(slack.calls_to("chat.postMessage", where=_is_report_summary)) == 1
    assert len(slack.calls_to("files.completeUploadExternal")) == 1


async def test_change_opens_a_modal_and_the_edits_reach_the_run(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot, emulator: EmulatorHandle
) -> None:
    ts, job_id = await _start(signed, slack, f"--plan Peat restoration {QUICK}")
    await wait_for_plan(slack, ts)
    await signed.action(CHANGE_ACTION, job_id, user_id="U2", message_ts=ts)
    assert await said(slack, 1) == ":no_entry: Only <@U1> can change this plan."
    assert slack.calls_to("views.open") == []

    await signed.action(CHANGE_ACTION, job_id, user_id="U1", message_ts=ts)
    [opened] = await slack.wait_for("views.open", 1)
    assert opened.ok, opened.response
    [modal] = slack.modals
    assert modal["callback_id"] == CHANGE_VIEW and modal["private_metadata"] == job_id
    [field] = [b for b in modal["blocks"] if b.get("block_id") == BRIEF_BLOCK]
    assert field["element"]["initial_value"] == f"Peat restoration {QUICK}"

    empty = await signed.submit_view(
        modal, {BRIEF_BLOCK: {BRIEF_INPUT: {"type": "plain_text_input", "value": " "}}}
    )
    assert empty.json()["response_action"] == "errors" and BRIEF_BLOCK in empty.json()["errors"]
    edited = f"Peat restoration in Ireland only, with costs per hectare {QUICK}"
    closed = await signed.submit_view(
        modal, {BRIEF_BLOCK: {BRIEF_INPUT: {"type": "plain_text_input", "value": edited}}}, user_id="U1"
    )
    assert closed.status_code == 200 and not closed.content.strip()
    [summary] = await slack.wait_for("chat.postMessage", 1, timeout=20, where=_is_report_summary)
    assert summary.args["thread_ts"] == ts
    [run] = runs_of(emulator, job_id)
    assert "Peat restoration in Ireland only, with costs per hectare" in run["input"]
    job = await bot.core.research.get(job_id, viewer=U1)
    assert job.changes == edited and job.status == "completed"
    report = (await bot.store.get_report(job_id)) or ""
    assert "Ireland only" in report
    await slack.wait_until(lambda: "with changes" in slack.message("C1", ts)["text"], timeout=5)


async def test_cancel_before_running_then_a_late_run_it_says_so(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot, emulator: EmulatorHandle
) -> None:
    ts, job_id = await _start(signed, slack, f"--plan Salt caverns {QUICK}")
    await wait_for_plan(slack, ts)
    await signed.action(CANCEL_ACTION, job_id, user_id="U2", message_ts=ts)
    assert await said(slack, 1) == ":no_entry: Only <@U1> can cancel this plan."
    await signed.action(CANCEL_ACTION, job_id, user_id="U1", message_ts=ts)
    assert await said(slack, 2) == "Cancelled: nothing was researched."
    await slack.wait_until(lambda: "cancelled" in slack.message("C1", ts)["text"], timeout=10)
    assert plan_buttons(slack.message("C1", ts)) == []

    await signed.action(RUN_ACTION, job_id, user_id="U1", message_ts=ts)
    assert "This plan was cancelled" in await said(slack, 3)
    await signed.action(CHANGE_ACTION, job_id, user_id="U1", message_ts=ts)
    assert "This plan was cancelled" in await said(slack, 4)
    await signed.action(CANCEL_ACTION, job_id, user_id="U1", message_ts=ts)
    assert "This plan was cancelled" in await said(slack, 5)
    assert runs_of(emulator, job_id) == [] and slack.calls_to("views.open") == []
    [summary] = await slack.wait_for("chat.postMessage", 1, timeout=10, where=_is_report_summary)
    assert "Research cancelled" in summary.args["blocks"][0]["text"] and summary.args["thread_ts"] == ts


async def test_two_clicks_at_once_run_it_once(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot, emulator: EmulatorHandle
) -> None:
    ts, job_id = await _start(signed, slack, f"--plan Sand batteries {QUICK}")
    await wait_for_plan(slack, ts)
    await asyncio.gather(*(signed.action(RUN_ACTION, job_id, user_id="U1", message_ts=ts) for _ in range(3)))
    replies = await slack.wait_for("response_url", 2)
    assert all("This plan already runs" in c.args["text"] for c in replies)
    await slack.wait_for("chat.postMessage", 1, timeout=20, where=_is_report_summary)
    await asyncio.sleep(0.3)
    assert len(runs_of(emulator, job_id)) == 1
    assert len(slack.calls_to("response_url")) == 2
    assert len(slack.calls_to("chat.postMessage", where=_is_report_summary)) == 1


@pytest.mark.parametrize("replayed", ["run it", "cancel", "a changed plan"])
async def test_a_replayed_plan_click_or_submission_is_taken_once(
    signed: SignedSlack, slack: FakeSlack, emulator: EmulatorHandle, replayed: str
) -> None:
    """Run it, Cancel or a changed plan's submission replayed inside Slack's five-minute signing window (the very
    same signed body, so the same trigger_id) is acknowledged and does nothing, where it would otherwise have
    said "already runs" or "was cancelled" a second time."""
    ts, job_id = await _start(signed, slack, f"--plan Kelp farms {QUICK}")
    await wait_for_plan(slack, ts)
    if replayed == "a changed plan":
        await signed.action(CHANGE_ACTION, job_id, user_id="U1", message_ts=ts)
        await slack.wait_for("views.open", 1)
        [modal] = slack.modals
        edited = {BRIEF_BLOCK: {BRIEF_INPUT: {"type": "plain_text_input", "value": f"Kelp only {QUICK}"}}}
        body = view_submission_body(modal, edited)
    else:
        action = RUN_ACTION if replayed == "run it" else CANCEL_ACTION
        body = block_action_body(
            action, job_id, message_ts=ts, response_url=slack.response_url(), trigger_id=slack.trigger_id()
        )
    for _ in range(2):
        assert (await signed.post(body, "application/x-www-form-urlencoded")).status_code == 200

    if replayed == "cancel":
        assert await said(slack, 1) == "Cancelled: nothing was researched."
    else:
        await slack.wait_for("chat.postMessage", 1, timeout=20, where=_is_report_summary)
    await asyncio.sleep(1.0)  # a replay's turn has long been taken by now
    assert len(runs_of(emulator, job_id)) == (0 if replayed == "cancel" else 1)
    # No second "already runs" or "was cancelled", privately or in the thread.
    assert len(slack.calls_to("response_url")) == (1 if replayed == "cancel" else 0)
    assert slack.calls_to("chat.postEphemeral") == []


async def test_plan_first_by_default_and_now_or_plan_override_it(
    settings: Settings, slack: FakeSlack, emulator: EmulatorHandle
) -> None:
    config = slack_config(slack, research_plan_first=True)
    async with running_bot(settings, config) as bot, signed_for(bot, slack) as signed:
        ts, job_id = await _start(signed, slack, f"Kelp forests {QUICK}")
        await wait_for_plan(slack, ts)
        await signed.command(f"research --now Seagrass {QUICK}")
        await slack.wait_for("chat.postMessage", 1, timeout=20, where=_is_report_summary)  # ran at once
        await _wait_jobs(bot, 2)
        planned = {j.prompt.split(" [")[0]: j for j in await bot.core.research.list(viewer=U1)}
        assert planned["Kelp forests"].status == "awaiting_approval" and planned["Kelp forests"].plan_first
        assert planned["Seagrass"].plan_first is False and planned["Seagrass"].run_id is None
        await signed.event(mention(f"research: Mangroves {QUICK}"))  # a mention follows the default too
        await _wait_jobs(bot, 3)
        assert {j.prompt.split(" [")[0]: j.plan_first for j in await bot.core.research.list(viewer=U1)} == {
            "Kelp forests": True,
            "Seagrass": False,
            "Mangroves": True,
        }
        response = await signed.command("research --plan")
        assert "/gemini research --plan <topic>" in response.json()["text"]
    assert runs_of(emulator, job_id) == []


async def _wait_jobs(bot: SlackBot, count: int) -> None:
    for _ in range(200):
        if len(await bot.core.research.list(viewer=U1)) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} research runs recorded")


async def test_a_plan_survives_a_restart_and_runs_after_it(
    settings: Settings, config: SlackConfig, slack: FakeSlack, emulator: EmulatorHandle
) -> None:
    async with running_bot(settings, config) as first, signed_for(first, slack) as signed:
        ts, job_id = await _start(signed, slack, f"--plan Compressed air storage {QUICK}")
        await wait_for_plan(slack, ts)
    async with running_bot(settings, config) as second, signed_for(second, slack) as signed:
        again = await second.core.research.get(job_id, viewer=U1)
        assert again.status == "awaiting_approval" and again.plan
        await signed.action(RUN_ACTION, job_id, user_id="U1", message_ts=ts)
        [summary] = await slack.wait_for("chat.postMessage", 1, timeout=20, where=_is_report_summary)
        assert summary.args["thread_ts"] == ts
        await asyncio.sleep(0.5)
    assert len(runs_of(emulator, job_id)) == 1
    assert len(slack.calls_to("chat.postMessage", where=_is_report_summary)) == 1


async def test_run_it_without_an_answer_from_gemini_says_start_unknown_not_that_the_plan_waits(
    settings: Settings, config: SlackConfig, slack: FakeSlack, emulator: EmulatorHandle
) -> None:
    quick = settings.model_copy(update={"request_timeout_seconds": 1.0})
    async with running_bot(quick, config) as bot, signed_for(bot, slack) as signed:
        ts, job_id = await _start(signed, slack, f"--plan Flywheels {QUICK}")
        await wait_for_plan(slack, ts)
        creates = emulator.stats.by_kind["create"]
        emulator.emulator.faults.hang(1, kind="create")
        await signed.action(RUN_ACTION, job_id, user_id="U1", message_ts=ts)
        reply = await said(slack, 1)
        assert "start_unknown" in reply and "aistudio.google.com/usage" in reply, reply
        assert "still waits" not in reply
        await slack.wait_until(
            lambda: "start unknown" in slack.message("C1", ts)["text"], timeout=10, what="the message"
        )
        assert plan_buttons(slack.message("C1", ts)) == []  # a second click cannot start a second paid run
        await signed.action(RUN_ACTION, job_id, user_id="U1", message_ts=ts)
        again = await said(slack, 2)
        assert "whether it ran is unknown" in again and "aistudio.google.com/usage" in again, again
    assert emulator.stats.by_kind["create"] == creates + 1  # the unanswered one, never a second


def test_the_plan_flag_and_the_config_switch() -> None:
    assert plan_flag("--plan TPUs", default=False) == (True, "TPUs")
    assert plan_flag("--now TPUs", default=True) == (False, "TPUs")
    assert plan_flag("TPUs --plan", default=False) == (False, "TPUs --plan")
    assert plan_flag("--PLAN", default=False) == (True, "")
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    assert SlackConfig.from_env(env).research_plan_first is False
    assert SlackConfig.from_env(env | {"SLACK_RESEARCH_PLAN_FIRST": "true"}).research_plan_first is True
    with pytest.raises(Exception, match="SLACK_RESEARCH_PLAN_FIRST must be true or false"):
        SlackConfig.from_env(env | {"SLACK_RESEARCH_PLAN_FIRST": "maybe"})


def test_the_plan_message_and_modal_stay_within_slacks_limits() -> None:
    job = ResearchJob(
        "v1_plan",
        "x" * 5000,
        "deep-research-preview-04-2026",
        Origin(
            source="slack",
            owner="slack:T1:U1",
            team_id="T1",
            channel_id="C1",
            thread_ts="1.0",
            message_ts="1.0",
        ),
        status="awaiting_approval",
        plan_first=True,
        plan="## Plan\n" + "1. a <step> & more\n" * 2000,
    )
    message = research_message(job)
    assert len(message["text"]) <= 3900
    assert sum(len(b["text"]) for b in message["blocks"] if b["type"] == "markdown") <= 12_000
    modal = change_modal(job)
    assert len(modal["title"]["text"]) <= 24 and len(modal["submit"]["text"]) <= 24
    [field] = [b for b in modal["blocks"] if b["type"] == "input"]
    assert len(field["element"]["initial_value"]) <= field["element"]["max_length"] <= 3000
    assert all(len(b["text"]["text"]) <= 3000 for b in modal["blocks"] if b["type"] == "section")
    assert "<step>" not in str(modal)  # the plan preview is escaped for mrkdwn
