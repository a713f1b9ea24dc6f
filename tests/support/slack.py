"""The Slack bot in tests: its config against the fake Slack, a running bot, signed requests, user messages."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from server.core import Core, Settings
from slack_bot.app import build_client, create_app
from slack_bot.bot import SlackBot
from slack_bot.config import SlackConfig
from slack_bot.http import EVENTS_PATH, http_app
from slack_bot.render import REPORT_EVENT_TYPE
from tests.fakes.slack_api import (
    SIGNING_SECRET,
    Call,
    FakeSlack,
    block_action_body,
    event_envelope,
    signed_headers,
    slash_command_body,
    view_submission_body,
)
from tests.fakes.slack_rules import default_channel, slack_text


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, what: str = "") -> None:
    """Poll an async condition until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        await asyncio.sleep(0.05)


def slack_config(slack: FakeSlack, **overrides: Any) -> SlackConfig:
    values: dict[str, Any] = {
        "bot_token": slack.bot_token,
        "signing_secret": SIGNING_SECRET,
        "app_token": None,
        "api_url": slack.api_url,
        "progress_seconds": 0.2,
        "sweep_seconds": 0.3,
        "retry_base_seconds": 0.2,
        # Answers posted whole (SLACK_STREAM_ANSWERS=false), read from chat.postMessage; the streaming tests
        # (tests/slack/test_streaming.py) and the bot as a process stream them, as the bot does by default.
        "stream_answers": False,
    }
    return SlackConfig(**(values | overrides))


@asynccontextmanager
async def running_bot(settings: Settings, config: SlackConfig) -> AsyncIterator[SlackBot]:
    async with Core.running(settings) as core:
        bot = create_app(build_client(config), core, config)
        async with bot.running():
            yield bot


@asynccontextmanager
async def signed_bot(
    settings: Settings, slack: FakeSlack, **config: Any
) -> AsyncIterator[tuple[SlackBot, SignedSlack]]:
    """A running bot (HTTP mode, its real Starlette route) and signed requests to it, against ``slack``."""
    async with running_bot(settings, slack_config(slack, **config)) as bot:
        transport = httpx.ASGITransport(app=http_app(bot))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            yield bot, SignedSlack(client, slack)


def everything_posted(slack: FakeSlack) -> str:
    """Every message, edit, view and response_url body the bot sent, as one JSON text."""
    posts = [c.args for c in slack.calls if c.method in ("chat.postMessage", "chat.update", "views.publish")]
    return json.dumps(posts + list(slack.responses), ensure_ascii=False)


@dataclass
class SignedSlack:
    """Sends requests to the bot's real Starlette route, signed exactly as Slack signs them."""

    http: httpx.AsyncClient
    slack: FakeSlack
    secret: str = SIGNING_SECRET

    async def post(self, body: str, content_type: str, **header_overrides: str) -> httpx.Response:
        headers = signed_headers(body, content_type, secret=self.secret) | header_overrides
        return await self.http.post(EVENTS_PATH, content=body.encode(), headers=headers)

    async def command(
        self,
        text: str,
        *,
        user_id: str = "U1",
        channel_id: str = "C1",
        team_id: str = "T1",
        channel_name: str | None = None,
        as_sent: bool = False,
    ) -> httpx.Response:
        """``/gemini <text>``, ``text`` as the person typed it (or, ``as_sent``, as Slack sends it)."""
        body = slash_command_body(
            text,
            user_id=user_id,
            channel_id=channel_id,
            team_id=team_id,
            response_url=self.slack.response_url(),
            channel_name=channel_name or self.slack.channel(channel_id).name,
            as_sent=as_sent,
        )
        return await self.post(body, "application/x-www-form-urlencoded")

    async def event(
        self, event: dict[str, Any], *, team_id: str = "T1", event_id: str | None = None, **headers: str
    ) -> httpx.Response:
        self.slack.user_event(event)
        body = json.dumps(event_envelope(event, team_id=team_id, event_id=event_id))
        return await self.post(body, "application/json", **headers)

    async def action(self, action_id: str, value: str, **kw: str) -> httpx.Response:
        body = block_action_body(
            action_id, value, response_url=self.slack.response_url(), trigger_id=self.slack.trigger_id(), **kw
        )
        return await self.post(body, "application/x-www-form-urlencoded")

    async def submit_view(
        self, view: dict[str, Any], values: dict[str, dict[str, Any]], **kw: str
    ) -> httpx.Response:
        """Submit a modal the bot opened, as Slack posts a ``view_submission``."""
        return await self.post(view_submission_body(view, values, **kw), "application/x-www-form-urlencoded")


_ts = iter(range(1, 10**9))


def user_ts() -> str:
    """A fresh ts for a message a user wrote."""
    return f"{int(time.time())}.{900000 + next(_ts):06d}"


def user_message(
    text: str, *, channel: str = "C1", user: str = "U1", as_sent: bool = False, **extra: Any
) -> dict[str, Any]:
    """A person's message event; ``text`` as they typed it (escaped as Slack escapes it: ``slack_text``), or
    ``as_sent`` by Slack."""
    sent = text if as_sent else slack_text(text)
    event = {"type": "message", "channel": channel, "user": user, "text": sent, "ts": user_ts()}
    event["channel_type"] = default_channel(channel).kind
    return event | extra


def mention(
    text: str, *, channel: str = "C1", user: str = "U1", as_sent: bool = False, **extra: Any
) -> dict[str, Any]:
    """A person's ``@Gemini <text>``, ``text`` as they typed it (or ``as_sent`` by Slack)."""
    event = {
        "type": "app_mention",
        "channel": channel,
        "user": user,
        "text": f"<@UBOT> {text if as_sent else slack_text(text)}",
        "ts": user_ts(),
    }
    return event | extra


def is_report_summary(call: Call) -> bool:
    """The first part of a delivered report: the summary message, tagged with the report metadata."""
    metadata = call.args.get("metadata") or {}
    return call.ok and isinstance(metadata, dict) and metadata.get("event_type") == REPORT_EVENT_TYPE


async def start_research(signed: SignedSlack, slack: FakeSlack, topic: str, **kw: Any) -> tuple[str, str]:
    """Run ``/gemini research <topic>``; return (started message ts, interaction id)."""
    await signed.command(f"research {topic}", **kw)
    [started] = await slack.wait_for("chat.postMessage", 1)
    ts = str(started.response["ts"])
    await slack.wait_for("chat.update", 1, where=lambda c: c.args["ts"] == ts and "ID `" in c.args["text"])
    job_id = slack.message(started.args["channel"], ts)["blocks"][1]["elements"][0]["value"]
    return ts, job_id
