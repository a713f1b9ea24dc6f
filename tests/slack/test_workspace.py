"""The bot in Slack as a person meets it: what Gemini writes never pings anyone, what people type reaches Gemini
as they typed it, and files shared from another organisation are read (the strict fake as Slack, the emulator
as Gemini, whose answers repeat the prompt)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.core import Settings
from server.emulator import EmulatorHandle
from slack_bot.bot import SlackBot
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_scopes import manifest_scopes
from tests.support.slack import (
    SignedSlack,
    everything_posted,
    is_report_summary,
    mention,
    signed_bot,
    user_message,
)

pytestmark = pytest.mark.anyio

# Typed literally by a person (Slack sends them escaped), so Gemini gets them, and its answer repeats them.
PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U2>", "<!subteam^S1|@eng>")
TYPED = " ".join(PINGS)
AS_SENT = TYPED.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _no_pings(slack: FakeSlack) -> None:
    posted = everything_posted(slack)
    found = [ping for ping in PINGS if ping in posted]
    assert found == [], f"posted to Slack as is: {found}"
    assert "&lt;!channel&gt;" in posted  # ... and shown, neutralised


def _gemini_inputs(emulator: EmulatorHandle) -> str:
    return json.dumps([body.get("input") for body in emulator.emulator.received_bodies()], ensure_ascii=False)


async def test_model_output_reaches_slack_neutralised_in_answers_and_echoes(
    signed: SignedSlack, slack: FakeSlack, emulator: EmulatorHandle
) -> None:
    # A DM, a mention, a follow-up in its thread, and /gemini (its "asked:" message echoes the question).
    await signed.event(user_message(f"Repeat after me: {AS_SENT}", channel="D1", as_sent=True))
    first = mention(f"Repeat: {AS_SENT}", as_sent=True)
    await signed.event(first)
    await slack.wait_for("chat.postMessage", 2)
    await signed.event(user_message(f"Again {AS_SENT}", thread_ts=first["ts"], as_sent=True))
    await signed.command(f"Say {AS_SENT}", as_sent=True)
    posts = await slack.wait_for("chat.postMessage", 5)
    assert TYPED in _gemini_inputs(emulator)  # Gemini did get the pings, and repeated them
    for post in posts:
        assert post.ok
        for block in post.args.get("blocks") or []:
            assert block["type"] != "markdown" or "&lt;!here&gt;" in block["text"]
    _no_pings(slack)


async def test_model_output_reaches_slack_neutralised_in_research_progress_summary_home_and_status(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot
) -> None:
    topic = f"{AS_SENT} [emulator:research_seconds=1] [emulator:research_steps=3]"
    await signed.command(f"research {topic}", as_sent=True)
    [started] = await slack.wait_for("chat.postMessage", 1)
    await slack.wait_for("chat.update", 1, where=lambda c: "_Latest:_" in c.args["text"], timeout=15)
    [summary] = await slack.wait_for("chat.postMessage", 1, timeout=20, where=is_report_summary)
    assert "&lt;!everyone&gt;" in summary.args["blocks"][0]["text"]  # the report repeats the topic
    await signed.event({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"})
    await slack.wait_for("views.publish", 1)
    await signed.command("status")
    await slack.wait_for("response_url", 1)
    assert "&lt;!here&gt;" in json.dumps(slack.views["U1"])
    assert started.args["text"].startswith(":mag: <@U1> started research")  # our own mention stays
    _no_pings(slack)


async def test_what_people_type_reaches_gemini_as_typed(
    signed: SignedSlack, slack: FakeSlack, emulator: EmulatorHandle, bot: SlackBot
) -> None:
    await signed.event(user_message("is a < b && c > d?", channel="D1"))
    [dm] = await slack.wait_for("chat.postMessage", 1)
    assert 'You said: "is a &lt; b && c &gt; d?"' in dm.args["blocks"][0]["text"]  # and back, neutralised
    inputs = _gemini_inputs(emulator)
    assert "is a < b && c > d?" in inputs and "&lt;" not in inputs and "&amp;" not in inputs

    # Mentions, channels and links as Slack writes them: a display name, #name, the link's label and URL.
    sent = "ask <@U1> and <@U2|grace> about <#C7|random>, <https://ex.io/a?b=1&amp;c=2|the spec> and <https://ex.io>"
    await signed.event(user_message(sent, channel="D1", as_sent=True))
    await slack.wait_for("chat.postMessage", 2)
    assert (
        "ask @Ada and @Grace Hopper about #random, the spec (https://ex.io/a?b=1&c=2) and https://ex.io"
        in _gemini_inputs(emulator)
    )
    await signed.event(user_message("and <@U1> again", channel="D1", as_sent=True))
    await slack.wait_for("chat.postMessage", 3)
    assert len(slack.calls_to("users.info", where=lambda c: c.args["user"] == "U1")) == 1  # cached

    # A research topic is escaped by Slack once, and unescaped once.
    await signed.command("research R&D <tools> [emulator:stuck]")
    await slack.wait_for("chat.update", 1, where=lambda c: "ID `" in c.args["text"])
    [job] = await bot.core.research.list(viewer=bot.viewer("T1", "U1"), limit=1)
    assert job.prompt == "R&D <tools> [emulator:stuck]"


async def test_names_fall_back_to_at_user_where_slack_refuses_them(
    settings: Settings, emulator: EmulatorHandle
) -> None:
    """An app installed before users:read was added (and not reinstalled since): users.info is refused."""
    async with FakeSlack(scopes=manifest_scopes() - {"users:read"}) as slack:
        async with signed_bot(settings, slack) as (_, signed):
            await signed.event(user_message("what does <@U2> think?", channel="D1", as_sent=True))
            await slack.wait_for("chat.postMessage", 1)
            [info] = slack.calls_to("users.info")
            assert info.response["error"] == "missing_scope"
    assert "what does @user think?" in _gemini_inputs(emulator)


async def test_a_pdf_shared_in_a_slack_connect_channel_is_read_via_files_info(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    pdf = b"%PDF-1.4\n" + b"0" * 700 + b"\n%%EOF"
    stub = slack.share_file("partner.pdf", pdf, "application/pdf", slack_connect=True)
    assert "url_private" not in stub and stub["file_access"] == "check_file_info"
    await signed.event(mention("summarise this", files=[stub], subtype="file_share"))
    [answer] = await slack.wait_for("chat.postMessage", 1)
    assert f"Received application/pdf ({len(pdf)} bytes)" in answer.args["blocks"][0]["text"]
    [info] = slack.calls_to("files.info")
    assert info.args["file"] == stub["id"]
    assert len(slack.calls_to("download")) == 1


async def test_a_slack_connect_file_that_cannot_be_read_gets_a_clear_reply(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    stub: dict[str, Any] = {"id": "FGONE", "mode": "file_access", "file_access": "check_file_info"}
    await signed.event(mention("and this?", files=[stub], subtype="file_share"))
    [reply] = await slack.wait_for("chat.postMessage", 1)
    assert "file_not_found" in reply.args["text"] and "another organisation" in reply.args["text"]


async def test_replies_in_a_private_channel_thread_continue(signed: SignedSlack, slack: FakeSlack) -> None:
    first = mention("Remember: teal", channel="G3")
    await signed.event(first)
    await slack.wait_for("chat.postMessage", 1)
    await signed.event(user_message("Which colour?", channel="G3", thread_ts=first["ts"]))
    posts = await slack.wait_for("chat.postMessage", 2)
    assert posts[1].args["thread_ts"] == first["ts"] and "Remember: teal" in posts[1].args["text"]
