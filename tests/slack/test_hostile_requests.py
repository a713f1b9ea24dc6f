"""What the bot does with requests an attacker shapes: file links that lead the bot token elsewhere, and slash
commands or button clicks replayed inside Slack's five-minute signing window."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from slack_bot.files import token_may_go_to
from slack_bot.http import EVENTS_PATH
from slack_bot.render import CANCEL_ACTION
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack, block_action_body, signed_headers, slash_command_body
from tests.support.slack import SignedSlack, start_research, user_message

pytestmark = pytest.mark.anyio

FORM = "application/x-www-form-urlencoded"
SLACK_API = "https://slack.com/api/"


@pytest.mark.parametrize(
    ("url", "api_url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/a.png", SLACK_API, True),
        ("https://files.slack.com:443/files-pri/T1-F1/a.png", SLACK_API, True),
        ("https://slack-files.com/files-pri/T1-F1/a.pdf", SLACK_API, True),  # where Slack redirects PDFs
        ("https://FILES.SLACK.COM/files-pri/T1-F1/a.png", SLACK_API, True),
        ("http://files.slack.com/files-pri/T1-F1/a.png", SLACK_API, False),  # the token in clear text
        ("https://files.slack.com:8443/files-pri/T1-F1/a.png", SLACK_API, False),
        ("https://files.slack.com.evil.net/a.png", SLACK_API, False),
        ("https://evilslack.com/a.png", SLACK_API, False),
        ("https://user@files.slack.com/a.png", SLACK_API, False),
        ("https://files.slack.com:notaport/a.png", SLACK_API, False),
        ("ftp://files.slack.com/a.png", SLACK_API, False),
        (
            "http://127.0.0.1:4000/files-pri/a.png",
            "http://127.0.0.1:4000/api/",
            True,
        ),  # SLACK_API_URL's origin
        ("http://127.0.0.1:4001/files-pri/a.png", "http://127.0.0.1:4000/api/", False),
        ("https://127.0.0.1:4000/files-pri/a.png", "http://127.0.0.1:4000/api/", False),
        ("http://localhost:4000/files-pri/a.png", "http://127.0.0.1:4000/api/", False),
    ],
)
def test_where_the_bot_token_may_go(url: str, api_url: str, allowed: bool) -> None:
    assert token_may_go_to(url, api_url) is allowed


async def test_file_links_elsewhere_get_no_token(signed: SignedSlack, slack: FakeSlack) -> None:
    """Links on another port, scheme or host, or a redirect there, are refused before any request is made."""
    async with FakeSlack(bot_token=BOT_TOKEN) as elsewhere:
        bait = elsewhere.share_file("bait.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")
        host, port = slack.url.removeprefix("http://").split(":")
        links = {
            "another port": bait["url_private_download"],
            "another scheme": f"https://{host}:{port}/files-pri/F1/download/a.png",
            "another host name": f"http://localhost:{port}/files-pri/F1/download/a.png",
        }
        files: list[dict[str, Any]] = []
        for name, url in links.items():
            file = slack.share_file(f"{name}.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")
            files.append(file | {"url_private_download": url, "url_private": url})
        files.append(
            slack.share_file(
                "redirected.png", b"\x89PNG", "image/png", redirect_to=bait["url_private_download"]
            )
        )
        for n, file in enumerate(files, 1):
            await signed.event(user_message("look", channel="D1", subtype="file_share", files=[file]))
            replies = await slack.wait_for("chat.postMessage", n)
            assert "hosted outside Slack" in replies[-1].args["text"], replies[-1].args["text"]
        assert elsewhere.calls_to("download") == []  # not even without the token


async def test_a_redirect_within_slack_is_followed_with_the_token(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    target = slack.share_file("target.png", png, "image/png")
    hop = slack.share_file("hop.png", png, "image/png", redirect_to=target["url_private_download"])
    await signed.event(user_message("look", channel="D1", subtype="file_share", files=[hop]))
    [answer] = await slack.wait_for("chat.postMessage", 1)
    assert f"Received image/png ({len(png)} bytes)" in str(answer.args)
    downloads = slack.calls_to("download")
    assert [d.args["file_id"] for d in downloads] == [hop["id"], target["id"]]
    assert all(d.headers["Authorization"] == f"Bearer {slack.bot_token}" for d in downloads)


async def _twice(signed: SignedSlack, body: str) -> None:
    """The same signed request, sent twice, as someone who captured it would replay it."""
    headers = signed_headers(body, FORM)
    for _ in range(2):
        assert (
            await signed.http.post(EVENTS_PATH, content=body.encode(), headers=headers)
        ).status_code == 200


async def test_a_replayed_slash_command_runs_once(signed: SignedSlack, slack: FakeSlack) -> None:
    await _twice(signed, slash_command_body("what is a replay?", response_url=slack.response_url()))
    await slack.wait_for("chat.postMessage", 2)  # the question, and its answer in the thread
    await asyncio.sleep(1.0)  # the replay's turn has long been taken by now
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_a_replayed_button_click_runs_once(signed: SignedSlack, slack: FakeSlack) -> None:
    ts, job_id = await start_research(signed, slack, "forever [emulator:stuck]")
    await _twice(
        signed, block_action_body(CANCEL_ACTION, job_id, message_ts=ts, response_url=slack.response_url())
    )
    [cancelled] = await slack.wait_for("response_url", 1)
    assert f"Cancelled research run `{job_id}`" in cancelled.args["text"]
    await asyncio.sleep(1.0)
    assert len(slack.calls_to("response_url")) == 1  # no second "already cancelled"

    # A new click (a new trigger_id) is a new request, and is answered.
    await signed.action(CANCEL_ACTION, job_id, message_ts=ts)
    await slack.wait_for("response_url", 2)
