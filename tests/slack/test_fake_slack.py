"""The fake Slack holds the bot to Slack's own rules (tests/fakes/slack_rules.py cites each): checked here with
slack_sdk's client, as the bot calls it, so that a rule cannot quietly stop being enforced."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack, slash_command_body
from tests.fakes.slack_rules import SlackRules
from tests.support.slack import user_message

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    yield AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])


async def _error(call: object) -> str:
    with pytest.raises(SlackApiError) as refused:
        await call  # type: ignore[misc]  # an awaitable API call
    return str(refused.value.response["error"])


async def test_membership(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_channel("C9", kind="channel", member=False)
    slack.add_channel("G9", kind="group", member=False)
    slack.add_channel("D9", kind="im", member=False)
    slack.add_channel("G8", kind="mpim", member=False)
    assert await _error(client.chat_postMessage(channel="C9", text="hi")) == "not_in_channel"
    for private in ("G9", "D9", "G8"):
        assert await _error(client.chat_postMessage(channel=private, text="hi")) == "channel_not_found"
    assert await _error(client.conversations_replies(channel="D9", ts="1.1")) == "channel_not_found"
    assert (await client.chat_postMessage(channel="D1", text="a DM with the bot"))["ok"]


async def test_a_thread_ts_must_be_a_parent_message_there(slack: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C1", text="parent")
    reply = await client.chat_postMessage(channel="C1", text="reply", thread_ts=parent["ts"])
    assert await _error(client.chat_postMessage(channel="C1", text="x", thread_ts="1.000001")) == (
        "invalid_thread_ts"
    )
    assert await _error(client.chat_postMessage(channel="C1", text="x", thread_ts=reply["ts"])) == (
        "invalid_thread_ts"
    )
    assert await _error(client.chat_postMessage(channel="C2", text="x", thread_ts=parent["ts"])) == (
        "invalid_thread_ts"
    )
    said = user_message("a person's message")
    slack.user_event(said)
    assert (await client.chat_postMessage(channel="C1", text="ok", thread_ts=said["ts"]))["ok"]
    assert await _error(client.chat_update(channel="C1", ts=said["ts"], text="mine now")) == (
        "cant_update_message"
    )


async def test_replies_hold_the_parent_and_peoples_messages_in_pages(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    parent = user_message("question")
    slack.user_event(parent)
    for n in range(4):
        slack.user_event(user_message(f"person {n}", thread_ts=parent["ts"]))
    await client.chat_postMessage(
        channel="C1",
        text="bot",
        thread_ts=parent["ts"],
        metadata={"event_type": "x", "event_payload": {"n": 1}},
    )
    texts: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await client.conversations_replies(channel="C1", ts=parent["ts"], limit=2, cursor=cursor)
        pages += 1
        texts += [m["text"] for m in page["messages"]]
        assert all("metadata" not in m for m in page["messages"])  # only with include_all_metadata
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            break
    assert pages == 3 and texts == ["question", *(f"person {n}" for n in range(4)), "bot"]
    everything = await client.conversations_replies(channel="C1", ts=parent["ts"], include_all_metadata=True)
    assert everything["messages"][-1]["metadata"]["event_type"] == "x"


async def test_one_message_per_second_per_channel() -> None:
    async with FakeSlack(rules=SlackRules(post_interval_seconds=1.0)) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
        await client.chat_postMessage(channel="C1", text="one")
        with pytest.raises(SlackApiError) as limited:
            await client.chat_postMessage(channel="C1", text="two")
        assert limited.value.response.status_code == 429
        assert int(limited.value.response.headers["Retry-After"]) >= 1
        assert (await client.chat_postMessage(channel="C2", text="another channel"))["ok"]


async def test_blocks_are_checked_as_slack_checks_them(slack: FakeSlack, client: AsyncWebClient) -> None:
    def header(n: int) -> dict[str, object]:
        return {"type": "header", "text": {"type": "plain_text", "text": "h" * n}}

    assert (await client.chat_postMessage(channel="C1", text="t", blocks=[header(150)]))["ok"]
    bad: list[list[dict[str, Any]]] = [
        [header(151)],
        [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}],
        [{"type": "header", "text": {"type": "mrkdwn", "text": "not plain"}}],
        [
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}],
            }
        ],
        [{"type": "no_such_block"}],
        [{"type": "divider"}] * 51,
    ]
    for blocks in bad:
        assert (
            await _error(client.chat_postMessage(channel="C1", text="t", blocks=blocks)) == "invalid_blocks"
        )
    markdown = [{"type": "markdown", "text": "m" * 6001}] * 2
    assert (
        await _error(client.chat_postMessage(channel="C1", text="t", blocks=markdown))
        == "msg_blocks_too_long"
    )
    home = {"type": "home", "blocks": [{"type": "markdown", "text": "markdown blocks are for messages"}]}
    assert await _error(client.views_publish(user_id="U1", view=home)) == "invalid_arguments"


async def test_a_response_url_takes_five_messages(slack: FakeSlack) -> None:
    url = slack.response_url()
    async with aiohttp.ClientSession() as http:
        statuses = []
        for n in range(6):
            async with http.post(url, json={"text": f"reply {n}"}) as response:
                statuses.append(response.status)
    assert statuses == [200] * 5 + [404]


async def test_scopes_the_app_was_not_granted_are_refused() -> None:
    async with FakeSlack(scopes={"chat:write"}) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])
        with pytest.raises(SlackApiError) as refused:
            await client.users_info(user="U1")
        assert refused.value.response["error"] == "missing_scope"
        assert refused.value.response["needed"] == "users:read"


async def test_slack_connect_files_are_stubs_until_files_info(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    stub = slack.share_file("deck.pdf", b"%PDF-1.4 deck", "application/pdf", slack_connect=True)
    assert set(stub) == {"id", "mode", "file_access", "created", "timestamp", "user"}
    info = await client.files_info(file=stub["id"])
    assert info["file"]["name"] == "deck.pdf" and info["file"]["url_private_download"].startswith(slack.url)


def test_text_is_escaped_as_slack_escapes_it() -> None:
    body = dict(urllib.parse.parse_qsl(slash_command_body("a < b && c, ask <@U2> about <#C1|general>")))
    assert body["text"] == "a &lt; b &amp;&amp; c, ask <@U2> about <#C1|general>"
    assert body["channel_name"] == "general"
    assert dict(urllib.parse.parse_qsl(slash_command_body("hi", channel_id="D7")))["channel_name"] == (
        "directmessage"
    )
    assert user_message("x > y & z")["text"] == "x &gt; y &amp; z"
