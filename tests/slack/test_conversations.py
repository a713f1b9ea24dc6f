"""Talking to the bot: mentions, follow-ups in threads, DMs, shared files, long answers, images."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from server.core.attachments import MAX_FILE_BYTES
from slack_bot.bot import SlackBot
from slack_bot.markdown import MARKDOWN_BUDGET, TEXT_LIMIT
from tests.fakes.slack_api import Call, FakeSlack
from tests.support.slack import SignedSlack, mention, user_message

pytestmark = pytest.mark.anyio


def _answer_text(call: Call) -> str:
    return str(call.args["blocks"][0]["text"]) if call.args.get("blocks") else str(call.args["text"])


def _png(size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_mention_answers_in_a_thread_and_replies_there_continue(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot
) -> None:
    first = mention("My name is Ada")
    await signed.event(first)
    [answer] = await slack.wait_for("chat.postMessage", 1)
    assert answer.args["thread_ts"] == first["ts"]
    assert "This is the first turn" in _answer_text(answer)
    assert slack.calls_to("assistant.threads.setStatus")[0].args["thread_ts"] == first["ts"]

    # A reply in that thread, without a mention, continues the same conversation.
    await signed.event(user_message("What is my name?", thread_ts=first["ts"]))
    posts = await slack.wait_for("chat.postMessage", 2)
    second = _answer_text(posts[1])
    assert posts[1].args["thread_ts"] == first["ts"]
    assert "1 earlier turn" in second and "My name is Ada" in second

    # A mention inside the thread continues it too (and the message event of that same message is ignored).
    again = mention("And again?", thread_ts=first["ts"])
    await signed.event(again)
    await signed.event(user_message(again["text"], thread_ts=first["ts"], ts=again["ts"]))
    posts = await slack.wait_for("chat.postMessage", 3)
    assert "2 earlier turns" in _answer_text(posts[2])

    # Never rebuilt from the thread's history.
    assert slack.calls_to("conversations.replies") == []
    assert len(slack.calls_to("chat.postMessage")) == 3

    # Every answer's id is recorded as the Slack user's, in their workspace's namespace.
    latest = await bot.store.get_thread("T1", "C1", first["ts"])
    recorded = await bot.store.interaction_owner(latest or "")
    assert recorded is not None and (recorded.owner, recorded.kind) == ("slack:T1:U1", "answer")


async def test_replies_in_threads_we_are_not_part_of_are_ignored(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    await signed.event(user_message("unrelated thread reply", thread_ts="1700000000.000001"))
    await signed.event(mention("ping"))
    posts = await slack.wait_for("chat.postMessage", 1)
    assert len(posts) == 1 and "ping" in _answer_text(posts[0])


async def test_dms_continue_one_conversation_per_thread(signed: SignedSlack, slack: FakeSlack) -> None:
    first = user_message("Remember: blue", channel="D1")
    await signed.event(first)
    [answer] = await slack.wait_for("chat.postMessage", 1)
    assert answer.args["channel"] == "D1" and answer.args["thread_ts"] == first["ts"]

    await signed.event(user_message("Which colour?", channel="D1", thread_ts=first["ts"]))
    posts = await slack.wait_for("chat.postMessage", 2)
    assert "Remember: blue" in _answer_text(posts[1])

    # A new top-level DM starts a new conversation.
    await signed.event(user_message("Fresh start", channel="D1"))
    posts = await slack.wait_for("chat.postMessage", 3)
    assert "This is the first turn" in _answer_text(posts[2])


async def test_files_shared_in_a_dm_go_to_gemini(signed: SignedSlack, slack: FakeSlack) -> None:
    png = _png()
    pdf = b"%PDF-1.4\n" + b"0" * 500 + b"\n%%EOF"
    files = [
        slack.share_file("photo.png", png, "image/png"),
        slack.share_file("paper.pdf", pdf, "application/pdf"),
    ]
    await signed.event(user_message("What are these?", channel="D1", subtype="file_share", files=files))
    [answer] = await slack.wait_for("chat.postMessage", 1)
    text = _answer_text(answer)
    assert f"Received image/png ({len(png)} bytes)" in text
    assert f"Received application/pdf ({len(pdf)} bytes)" in text
    downloads = slack.calls_to("download")
    assert len(downloads) == 2
    assert all(d.headers["Authorization"] == f"Bearer {slack.bot_token}" for d in downloads)


async def test_a_file_with_a_mention_and_nothing_else_is_described(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    files = [slack.share_file("chart.png", _png(), "image/png")]
    await signed.event(mention("", files=files))
    [answer] = await slack.wait_for("chat.postMessage", 1)
    assert "Received image/png" in _answer_text(answer)


async def test_refused_files_get_a_clear_reply(signed: SignedSlack, slack: FakeSlack) -> None:
    big = slack.share_file("huge.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")
    big["size"] = MAX_FILE_BYTES + 1
    await signed.event(user_message("look", channel="D1", subtype="file_share", files=[big]))
    [reply] = await slack.wait_for("chat.postMessage", 1)
    assert "huge.png" in reply.args["text"] and "MiB" in reply.args["text"]

    odd = slack.share_file("tool.exe", b"MZ\x90\x00" * 100, "application/x-msdownload")
    await signed.event(user_message("run this", channel="D1", subtype="file_share", files=[odd]))
    posts = await slack.wait_for("chat.postMessage", 2)
    assert "tool.exe" in posts[1].args["text"] and "unsupported type" in posts[1].args["text"]
    assert slack.calls_to("download", where=lambda c: c.args["file_id"] == big["id"]) == []


async def test_long_answers_are_split_within_slack_limits(signed: SignedSlack, slack: FakeSlack) -> None:
    # The emulator repeats the question, so a long question gets a long answer: here about two blocks' worth.
    paragraphs = [f"Paragraph {i}. " + "word " * 200 for i in range(20)]
    code = "```python\n" + "\n".join(f"x_{i} = {i}" for i in range(300)) + "\n```"
    question = "\n\n".join([*paragraphs[:10], code, *paragraphs[10:]])
    await signed.event(user_message(question, channel="D1"))
    posts = await slack.wait_for("chat.postMessage", 2)
    await slack.wait_until(lambda: len(slack.calls_to("chat.postMessage")) >= 3 or _settled(slack), timeout=5)
    posts = slack.calls_to("chat.postMessage")
    assert 2 <= len(posts) <= 3
    assert all(c.ok for c in posts)
    for call in posts:
        assert sum(len(b["text"]) for b in call.args["blocks"] if b["type"] == "markdown") <= MARKDOWN_BUDGET
        assert len(call.args["text"]) <= TEXT_LIMIT
        assert call.args["blocks"][0]["text"].count("```") % 2 == 0
    joined = "\n".join(c.args["blocks"][0]["text"] for c in posts)
    assert all(f"Paragraph {i}." in joined for i in range(20))
    assert all(f"x_{i} = {i}" in joined for i in range(300))


def _settled(slack: FakeSlack) -> bool:
    last = slack.calls_to("chat.postMessage")[-1]
    return "Paragraph 19." in last.args["blocks"][0]["text"]


async def test_very_long_answers_go_up_as_a_file(signed: SignedSlack, slack: FakeSlack) -> None:
    question = "\n\n".join(f"Section {i}. " + "lorem ipsum " * 300 for i in range(15))  # ~55k characters
    await signed.event(user_message(question, channel="D1"))
    [intro] = await slack.wait_for("chat.postMessage", 1)
    await slack.wait_for("files.completeUploadExternal", 1)
    assert "attached file" in intro.args["blocks"][0]["text"]
    [upload] = [u for u in slack.uploads.values() if u.completed]
    assert upload.filename == "answer.md" and upload.thread_ts == intro.args["thread_ts"]
    assert "Section 14." in upload.data.decode()
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_image_command_uploads_the_png_into_the_thread(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot
) -> None:
    await signed.command("image a red bicycle")
    [parent] = await slack.wait_for("chat.postMessage", 1)
    assert parent.args["text"] == "<@U1> asked for an image of: a red bicycle"
    [complete] = await slack.wait_for("files.completeUploadExternal", 1)
    parent_ts = parent.response["ts"]
    assert complete.args["thread_ts"] == parent_ts and complete.args["channel_id"] == "C1"
    [upload] = [u for u in slack.uploads.values() if u.completed]
    assert upload.data.startswith(b"\x89PNG") and upload.filename.endswith(".png")
    requested = slack.calls_to("files.getUploadURLExternal")[0].args
    assert requested["alt_txt"] == "a red bicycle"
    assert json.loads(complete.args["files"])[0]["title"] == "a red bicycle"
    drawn = await bot.store.interaction_owner(await bot.store.get_thread("T1", "C1", parent_ts) or "")
    assert drawn is not None and (drawn.owner, drawn.kind) == ("slack:T1:U1", "image")


async def test_gemini_errors_are_posted_in_the_thread(
    signed: SignedSlack, slack: FakeSlack, faults: object
) -> None:
    faults.server_error(503, count=5)  # type: ignore[attr-defined]  # the faults fixture, typed loosely
    await signed.event(mention("are you there?"))
    [reply] = await slack.wait_for("chat.postMessage", 1)
    assert reply.args["text"].startswith(":warning:")
