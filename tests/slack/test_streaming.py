"""Answers that stream into their thread (chat.startStream / appendStream / stopStream), a stream Slack refuses or
ends early falling back to post-then-edit, control sequences split across chunks neutralised, long answers going
on in more messages, tools shown as tasks, the loading status, suggested prompts and feedback buttons."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from server.core import ConfigurationError, Settings, TextPiece, ToolPiece
from slack_bot.answer_stream import AnswerWriter
from slack_bot.bot import SlackBot
from slack_bot.feedback import FEEDBACK_ACTION
from slack_bot.http import http_app
from slack_bot.listeners.dispatch import research_topic
from slack_bot.markdown import MARKDOWN_BUDGET
from slack_bot.neutralise import neutralise
from slack_bot.suggestions import DEFAULT_PROMPTS, prompts_from_env
from tests.fakes.slack_api import Call, FakeSlack, block_action_body
from tests.fakes.slack_scopes import MANIFEST
from tests.support.slack import SignedSlack, mention, running_bot, slack_config, user_message

pytestmark = pytest.mark.anyio
SLOW = "[emulator:write_seconds=2]"


@pytest.fixture
async def streaming(settings: Settings, slack: FakeSlack) -> AsyncIterator[tuple[SignedSlack, SlackBot]]:
    async with running_bot(settings, slack_config(slack, stream_answers=True)) as bot:
        transport = httpx.ASGITransport(app=http_app(bot))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            yield SignedSlack(client, slack), bot


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _ts(call: Call) -> str:
    assert isinstance(call.response, dict)
    return str(call.response["ts"])


async def _whole_answer(bot: SlackBot, text: str) -> str:
    """What Gemini answers to ``text`` as the first turn of a conversation, unstreamed."""
    return (await bot.core.ask(text, caller=bot.viewer("T1", "U1"))).text


async def test_an_answer_streams_in_chunks_into_its_thread_and_equals_the_whole_answer(
    streaming: tuple[SignedSlack, SlackBot], slack: FakeSlack
) -> None:
    signed, bot = streaming
    prompt = "Explain the tides, " + "slowly and with care, " * 8 + SLOW
    event = mention(prompt)
    await signed.event(event)
    [stop] = await slack.wait_for("chat.stopStream", 1, timeout=30)
    [start] = slack.calls_to("chat.startStream")
    assert start.args["thread_ts"] == event["ts"]
    assert start.args["recipient_team_id"] == "T1" and start.args["recipient_user_id"] == "U1"
    message = slack.message("C1", stop.args["ts"])
    assert message["stream_calls"] >= 4  # started, appended more than once, stopped
    assert message["text"] == neutralise(await _whole_answer(bot, prompt)).rstrip()
    assert slack.calls_to("chat.postMessage") == []
    # The feedback buttons under it name the interaction the thread now continues from.
    [buttons] = message["blocks"]
    interaction_id = await bot.store.get_thread("T1", "C1", event["ts"])
    assert buttons["elements"][0]["positive_button"]["value"] == f"up:{interaction_id}"
    # The loading status said what is happening meanwhile.
    [status] = slack.statuses
    assert status["status"] == "is thinking…" and len(status["loading_messages"]) >= 2


async def test_a_refused_stream_falls_back_to_post_then_edit(
    streaming: tuple[SignedSlack, SlackBot], slack: FakeSlack
) -> None:
    signed, bot = streaming
    slack.fail("chat.startStream", status=200, error="not_allowed_token_type", times=5)
    prompt = "Tell me about the moon, " + "in some detail, " * 8 + SLOW
    await signed.event(mention(prompt))
    await slack.wait_until(
        lambda: any(c.ok and len(_loaded(c.args.get("blocks")) or []) == 2 for c in slack.calls),
        timeout=30,
        what="the answer with its feedback buttons",
    )
    [post] = slack.calls_to("chat.postMessage")
    message = slack.message("C1", _ts(post))
    assert message["blocks"][0]["text"] == neutralise(await _whole_answer(bot, prompt)).rstrip()
    assert message["blocks"][1]["type"] == "context_actions"
    assert slack.calls_to("chat.update")  # edited as it grew
    assert not [c for c in slack.calls if c.method in ("chat.appendStream", "chat.stopStream")]


async def test_a_stream_that_ends_early_goes_on_by_editing_its_message(
    streaming: tuple[SignedSlack, SlackBot], slack: FakeSlack
) -> None:
    signed, bot = streaming
    prompt = "Describe Saturn, " + "ring by ring, " * 10 + "[emulator:write_seconds=3]"
    await signed.event(mention(prompt))
    [start] = await slack.wait_for("chat.startStream", 1, timeout=30)
    message = slack.message("C1", _ts(start))
    message["streaming"] = False  # Slack ended the stream (python-slack-sdk#1859)
    await slack.wait_until(
        lambda: any(
            c.method == "chat.update" and c.ok and "context_actions" in str(c.args) for c in slack.calls
        ),
        timeout=30,
        what="the final edit",
    )
    refused = [c for c in slack.calls if c.method == "chat.appendStream" and not c.ok]
    assert refused and "message_not_in_streaming_state" in str(refused[0].response)
    assert message["blocks"][0]["text"] == neutralise(await _whole_answer(bot, prompt)).rstrip()


async def test_a_channel_ping_split_across_chunks_reaches_slack_neutralised(
    streaming: tuple[SignedSlack, SlackBot], slack: FakeSlack
) -> None:
    signed, _ = streaming
    # 'You said: "' and 33 characters put "<!chan" and "nel>" in two of the emulator's 48-character deltas.
    # Typed literally (Slack sends it escaped, the bot unescapes it), so Gemini gets it and repeats it.
    prompt = "a" * 33 + "&lt;!channel&gt; please read this " + SLOW
    await signed.event(user_message(prompt, channel="D1", as_sent=True))
    [stop] = await slack.wait_for("chat.stopStream", 1, timeout=30)
    streamed = [
        c for c in slack.calls if c.method in ("chat.startStream", "chat.appendStream", "chat.stopStream")
    ]
    assert len(streamed) >= 3
    assert not any("<" in json.dumps(c.args.get("chunks") or []) for c in streamed)
    text = slack.message("D1", stop.args["ts"])["text"]
    assert "&lt;!channel&gt; please read this" in text and "<" not in text


async def test_the_writer_neutralises_a_sequence_split_between_two_sends(slack: FakeSlack) -> None:
    slack.add_channel("D7", kind="im")
    parent = await AsyncWebClient(token=slack.bot_token, base_url=slack.api_url).chat_postMessage(
        channel="D7", text="question"
    )
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    writer = AnswerWriter(client, channel="D7", thread_ts=parent["ts"], team_id="T1", user_id="U1")
    async with anyio.create_task_group() as group:
        group.start_soon(writer.run)
        await writer.feed(TextPiece("Hey <!chan"))
        await slack.wait_for("chat.startStream", 1)
        await anyio.sleep(0.7)  # past the pacing interval
        await writer.feed(TextPiece("nel> and <@U2>"))
        await slack.wait_for("chat.appendStream", 1)
        writer.close()
    await writer.finish("Hey <!channel> and <@U2>", [])
    sent = [_chunk_text(c.args) for c in slack.calls if c.method.endswith("Stream")]
    assert sent[0] == "Hey &lt;!chan" and sent[1] == "nel&gt; and &lt;@U2&gt;"
    [stop] = slack.calls_to("chat.stopStream")
    assert slack.message("D7", stop.args["ts"])["text"] == "Hey &lt;!channel&gt; and &lt;@U2&gt;"


def _chunk_text(args: dict[str, Any]) -> str:
    return "".join(c.get("text", "") for c in args.get("chunks") or [])


async def test_tools_show_as_tasks_and_a_long_answer_goes_on_in_more_messages(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    parent = await client.chat_postMessage(channel="C1", text="question")
    writer = AnswerWriter(client, channel="C1", thread_ts=parent["ts"], team_id="T1", user_id="U1")
    paragraphs = [f"Paragraph {n}: " + "words " * 300 for n in range(12)]  # about 22,000 characters
    whole = "\n\n".join(paragraphs)
    async with anyio.create_task_group() as group:
        group.start_soon(writer.run)
        await writer.feed(ToolPiece("s1", "google_search", "in_progress", "tides <!here>"))
        await writer.feed(ToolPiece("s1", "google_search", "complete"))
        for n, paragraph in enumerate(paragraphs):
            await writer.feed(TextPiece(("\n\n" if n else "") + paragraph))
            await anyio.sleep(0.05)
        writer.close()
    posted = await writer.finish(whole, [{"type": "divider"}])
    [start] = slack.calls_to("chat.startStream")
    assert start.args["task_display_mode"] == "timeline"
    streamed = slack.message("C1", posted[0])
    assert streamed["tasks"]["s1"]["status"] == "complete"
    tasks = [
        c for call in slack.calls if call.method.endswith("Stream") for c in call.args.get("chunks") or []
    ]
    assert {
        "type": "task_update",
        "id": "s1",
        "title": "Searching the web",
        "status": "complete",
    }.items() <= [t for t in tasks if t["type"] == "task_update"][-1].items()
    assert all(t.get("details") == "tides &lt;!here&gt;" for t in tasks if t["type"] == "task_update")
    assert not streamed["streaming"] and len(streamed["text"]) <= MARKDOWN_BUDGET
    assert streamed["text"].startswith("Paragraph 0:") and streamed["text"].rstrip().endswith("words")
    rest = [slack.message("C1", ts) for ts in posted[1:]]
    assert 1 <= len(rest) <= 2 and rest[-1]["blocks"][-1] == {"type": "divider"}
    shown = streamed["text"] + "\n\n" + "\n\n".join(m["blocks"][0]["text"] for m in rest)
    assert shown.split() == whole.split()  # every word, once, in order


async def test_suggested_prompts_show_in_the_messages_tab(signed: SignedSlack, slack: FakeSlack) -> None:
    event = {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "messages"}
    await signed.event(event)
    [call] = await slack.wait_for("assistant.threads.setSuggestedPrompts", 1)
    assert "thread_ts" not in call.args  # the agent view: with a thread_ts it would fail silently
    assert slack.suggested_prompts["D1"]["prompts"] == [dict(p) for p in DEFAULT_PROMPTS]


def test_the_default_prompts_never_start_a_research_run() -> None:
    assert 1 <= len(DEFAULT_PROMPTS) <= 4
    assert all(research_topic(p["message"]) is None for p in DEFAULT_PROMPTS)
    # The app manifest's agent view suggests the same ones.
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert manifest["features"]["agent_view"]["suggested_prompts"] == [dict(p) for p in DEFAULT_PROMPTS]


def test_suggested_prompts_are_configurable() -> None:
    custom = [{"title": "Standup", "message": "Summarise yesterday's standup notes"}]
    assert prompts_from_env({"SLACK_SUGGESTED_PROMPTS": json.dumps(custom)}) == tuple(custom)
    assert prompts_from_env({"SLACK_SUGGESTED_PROMPTS": "off"}) == ()
    assert prompts_from_env({}) == DEFAULT_PROMPTS
    for bad in ("nope", "[]x", json.dumps([{"title": "x"}]), json.dumps([custom[0]] * 5)):
        with pytest.raises(ConfigurationError, match="SLACK_SUGGESTED_PROMPTS"):
            prompts_from_env({"SLACK_SUGGESTED_PROMPTS": bad})


async def test_feedback_is_stored_with_the_interaction_and_the_user_and_logged(
    streaming: tuple[SignedSlack, SlackBot], slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    signed, bot = streaming
    event = mention("Is this a good answer?")
    await signed.event(event)
    [stop] = await slack.wait_for("chat.stopStream", 1, timeout=30)
    buttons = slack.message("C1", stop.args["ts"])["blocks"][0]["elements"][0]
    caplog.set_level(logging.INFO, logger="slack_bot.feedback")
    caplog.set_level(logging.INFO, logger="slack_bot.bot")
    clicks = (("negative_button", "U1"), ("positive_button", "U2"), ("positive_button", "U1"))
    for n, (button, user) in enumerate(clicks, 1):
        body = block_action_body(
            FEEDBACK_ACTION,
            buttons[button]["value"],
            user_id=user,
            message_ts=stop.args["ts"],
            action_type="feedback_buttons",
            trigger_id=slack.trigger_id(),
        )
        await signed.post(body, "application/x-www-form-urlencoded")
        await slack.wait_for("chat.postEphemeral", n)  # one click after the other
    await signed.post(body, "application/x-www-form-urlencoded")  # a replay of the last click counts once
    interaction_id = await bot.store.get_thread("T1", "C1", event["ts"])
    assert interaction_id

    async def stored() -> list[tuple[str, str]]:
        return [(f.user_id, f.rating) for f in await bot.store.feedback_for(interaction_id)]

    await slack.wait_for("chat.postEphemeral", 3)
    await slack.wait_until(
        lambda: any("ignored a replayed feedback button" in r.getMessage() for r in caplog.records),
        what="the replay ignored",
    )
    assert sorted(await stored()) == [("U1", "up"), ("U2", "up")]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "slack_bot.feedback"]
    assert [(line["user_id"], line["rating"]) for line in lines] == [
        ("U1", "down"),
        ("U2", "up"),
        ("U1", "up"),
    ]
    assert all(
        line["interaction_id"] == interaction_id and line["event"] == "answer_feedback" for line in lines
    )


async def test_the_status_is_cleared_after_an_image_upload(signed: SignedSlack, slack: FakeSlack) -> None:
    await signed.command("image a red square")
    await slack.wait_for("files.completeUploadExternal", 1, timeout=30)
    await slack.wait_until(lambda: len(slack.statuses) >= 2, timeout=10, what="the status cleared")
    assert slack.statuses[0]["status"] == "is drawing…" and slack.statuses[-1]["status"] == ""
