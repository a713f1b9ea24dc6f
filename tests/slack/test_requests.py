"""HTTP mode at the door: signatures, fast acks, retries and duplicate events, health."""

from __future__ import annotations

import json
import time

import pytest

from slack_bot.bot import SlackBot
from tests.fakes.slack_api import FakeSlack, event_envelope, signed_headers, slash_command_body
from tests.support.slack import SignedSlack, user_message

pytestmark = pytest.mark.anyio


async def test_bad_signature_is_401_and_nothing_runs(signed: SignedSlack, slack: FakeSlack) -> None:
    body = slash_command_body("hello", response_url=slack.response_url())
    forged = signed_headers(body, "application/x-www-form-urlencoded", secret="not-the-secret")
    response = await signed.http.post("/slack/events", content=body, headers=forged)
    assert response.status_code == 401
    tampered = signed_headers(body, "application/x-www-form-urlencoded")
    response = await signed.http.post(
        "/slack/events", content=body.replace("hello", "hullo"), headers=tampered
    )
    assert response.status_code == 401
    assert slack.calls_to("chat.postMessage") == []


async def test_stale_timestamp_is_401(signed: SignedSlack, slack: FakeSlack) -> None:
    body = slash_command_body("hello", response_url=slack.response_url())
    stale = signed_headers(body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 301)
    response = await signed.http.post("/slack/events", content=body, headers=stale)
    assert response.status_code == 401
    assert slack.calls_to("chat.postMessage") == []


async def test_url_verification_answers_the_challenge_only_when_signed(signed: SignedSlack) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"})
    assert (await signed.post(body, "application/json")).json() == {"challenge": "c-123"}
    unsigned = await signed.http.post(
        "/slack/events", content=body, headers={"content-type": "application/json"}
    )
    assert unsigned.status_code == 401


async def test_slash_command_is_acked_at_once_and_answered_in_a_thread(
    signed: SignedSlack, slack: FakeSlack, bot: SlackBot
) -> None:
    started = time.perf_counter()
    response = await signed.command("What is a TPU?")
    assert response.status_code == 200
    assert time.perf_counter() - started < 1.0
    posts = await slack.wait_for("chat.postMessage", 2)
    parent, answer = posts[0].args, posts[1].args
    assert parent["channel"] == "C1" and parent["text"] == "<@U1> asked: What is a TPU?"
    assert answer["thread_ts"] == posts[0].response["ts"]
    assert answer["blocks"][0]["type"] == "markdown"
    assert 'You said: "What is a TPU?"' in answer["blocks"][0]["text"]
    # The loading indicator was shown in that thread while waiting.
    status = slack.calls_to("assistant.threads.setStatus")
    assert status and status[0].args["thread_ts"] == parent_ts(posts[0])
    # The thread now continues that interaction.
    assert await bot.store.get_thread("T1", "C1", parent_ts(posts[0]))


def parent_ts(call: object) -> str:
    return call.response["ts"]  # type: ignore[attr-defined]  # a Call, typed loosely by the test


async def test_a_retried_event_and_a_repeated_event_id_answer_once(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    event = user_message("hello from a DM", channel="D1")
    first = await signed.event(event, event_id="Ev-dup-1")
    retry = await signed.event(
        event, event_id="Ev-dup-1", **{"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    )
    again = await signed.event(event, event_id="Ev-dup-1")
    assert first.status_code == retry.status_code == again.status_code == 200
    await slack.wait_for("chat.postMessage", 1)
    # A different event is still answered, which also shows the duplicates had time to be (not) answered.
    await signed.event(user_message("second question", channel="D1"), event_id="Ev-other")
    posts = await slack.wait_for("chat.postMessage", 2)
    texts = [c.args["text"] for c in posts]
    assert sum("hello from a DM" in t for t in texts) == 1
    assert len(posts) == 2


async def test_a_retry_of_an_event_we_never_saw_is_answered(signed: SignedSlack, slack: FakeSlack) -> None:
    # Slack retries when the first delivery never reached us (e.g. we were restarting): answer it then.
    event = user_message("did you get this?", channel="D1")
    await signed.event(
        event, event_id="Ev-lost", **{"x-slack-retry-num": "1", "x-slack-retry-reason": "http_error"}
    )
    posts = await slack.wait_for("chat.postMessage", 1)
    assert "did you get this?" in posts[0].args["text"]


async def test_healthz(signed: SignedSlack) -> None:
    response = await signed.http.get("/healthz")
    assert response.status_code == 200 and response.json()["ok"] is True


async def test_readyz_says_the_store_is_open_and_slack_accepted_the_token(signed: SignedSlack) -> None:
    response = await signed.http.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body == body | {"ready": True, "store": "open", "slack": "connected"}


async def test_events_we_do_not_answer_get_200_and_no_reply(signed: SignedSlack, slack: FakeSlack) -> None:
    # Top-level channel chatter, edits and other bots: acked, ignored.
    await signed.event(user_message("just chatting"))
    await signed.event(user_message("edited", channel="D1", subtype="message_changed"))
    await signed.event(user_message("beep", channel="D1", bot_id="B2"))
    body = json.dumps(event_envelope({"type": "reaction_added", "user": "U1", "reaction": "+1"}))
    assert (await signed.post(body, "application/json")).status_code == 200
    await signed.event(user_message("now a real DM", channel="D1"))
    posts = await slack.wait_for("chat.postMessage", 1)
    assert len(posts) == 1 and "now a real DM" in posts[0].args["text"]
