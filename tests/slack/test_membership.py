"""Where the bot is not a member, and group DMs where it is: ``/gemini`` in a DM or group DM between people is
answered through the command's response_url (Slack refuses the bot's own posts there); a channel it was not
invited to gets the answer and the advice to invite it; a group DM with the bot works like a channel."""

from __future__ import annotations

import json

import pytest

from server.emulator import EmulatorHandle
from slack_bot.bot import SlackBot
from tests.fakes.slack_api import FakeSlack
from tests.support.slack import SignedSlack, mention, user_message

pytestmark = pytest.mark.anyio


async def _responses(slack: FakeSlack, count: int) -> list[dict[str, object]]:
    await slack.wait_for("response_url", count)
    return list(slack.responses)


async def test_gemini_in_a_dm_between_two_people_answers_through_the_response_url(
    signed: SignedSlack, slack: FakeSlack, emulator: EmulatorHandle, bot: SlackBot
) -> None:
    slack.add_channel("D2", kind="im", member=False)  # Ada and Grace's DM: no app can be added to it
    await signed.command("What is a TPU?", channel_id="D2")
    [answer] = await _responses(slack, 1)
    [answer_id] = emulator.emulator.interaction_ids()
    record = await bot.core.store.interaction_owner(answer_id)
    assert record is not None and record.owner == "slack:T1:U1"  # the asker's, as in a thread
    [refused] = slack.calls_to("chat.postMessage")
    assert refused.response["error"] == "channel_not_found"
    assert answer["response_type"] == "in_channel"
    text = json.dumps(answer)
    assert "<@U1> asked: What is a TPU?" in text and 'You said: \\"What is a TPU?\\"' in text
    assert "send me a direct message" in text and "/invite" not in text
    assert str(answer["text"]).startswith("<@U1> asked: What is a TPU?")


async def test_a_long_answer_in_a_group_dm_between_people_stays_within_the_response_url(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    slack.add_channel("G5", kind="mpim", name="mpdm-ada--grace--alan-1", member=False)
    question = "\n\n".join(f"Paragraph {i}. " + "word " * 200 for i in range(20))  # two blocks' worth
    await signed.command(question, channel_id="G5")
    await slack.wait_for("response_url", 2)
    await slack.wait_until(lambda: "direct message" in json.dumps(slack.responses[-1]), timeout=10)
    assert 2 <= len(slack.responses) <= 3  # a response_url takes 5 messages
    joined = json.dumps(slack.responses)
    assert all(f"Paragraph {i}." in joined for i in range(20))
    assert "/invite" not in joined


async def test_images_and_research_in_a_dm_between_people_say_what_works_instead(
    signed: SignedSlack, slack: FakeSlack, emulator: EmulatorHandle
) -> None:
    slack.add_channel("D2", kind="im", member=False)
    before = len(emulator.emulator.received_bodies())
    await signed.command("image a red bicycle", channel_id="D2")
    await signed.command("research tidal power", channel_id="D2")
    replies = [str(r["text"]) for r in await _responses(slack, 2)]
    assert any("can't post the picture here" in r for r in replies)
    assert any("can't post the research report here" in r for r in replies)
    assert all("send me a direct message" in r and "/invite" not in r for r in replies)
    assert len(emulator.emulator.received_bodies()) == before  # nothing was asked of Gemini


async def test_a_channel_the_bot_is_not_in_gets_the_answer_and_the_advice_to_invite_it(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    slack.add_channel("C9", kind="channel", member=False)
    await signed.command("hello?", channel_id="C9")
    [answer] = await _responses(slack, 1)
    [refused] = slack.calls_to("chat.postMessage")
    assert refused.response["error"] == "not_in_channel"
    assert "You said" in json.dumps(answer) and "/invite @Gemini" in json.dumps(answer)


async def test_a_group_dm_with_the_bot_works_like_a_channel(signed: SignedSlack, slack: FakeSlack) -> None:
    slack.add_channel("G7", kind="mpim", name="mpdm-ada--grace--gemini-1", member=True)
    first = mention("Remember: violet", channel="G7")
    await signed.event(first)
    [answer] = await slack.wait_for("chat.postMessage", 1)
    assert answer.args["channel"] == "G7" and answer.args["thread_ts"] == first["ts"]
    await signed.event(
        user_message("Which colour?", channel="G7", channel_type="mpim", thread_ts=first["ts"])
    )
    posts = await slack.wait_for("chat.postMessage", 2)
    assert "Remember: violet" in posts[1].args["text"]
    # Top-level chatter in the group DM is not for the bot.
    await signed.event(user_message("lunch?", channel="G7", channel_type="mpim"))
    await signed.event(mention("ping", channel="G7"))
    posts = await slack.wait_for("chat.postMessage", 3)
    assert "ping" in posts[2].args["text"] and len(posts) == 3
