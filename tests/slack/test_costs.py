"""Cost in Slack: the App Home's monthly spend and each run's estimate, ``/gemini usage`` per person and per
day, who may start research (``SLACK_RESEARCH_ALLOWED``, user groups through ``usergroups.users.list``) and the
operator's limits refusing a start with which limit and when it resets."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from server.core import ConfigurationError, Settings
from server.emulator import EmulatorHandle
from slack_bot.config import SlackConfig
from slack_bot.http import http_app
from slack_bot.plan_view import CANCEL_ACTION, CHANGE_ACTION, RUN_ACTION
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_scopes import manifest_scopes
from tests.slack.test_research_plans import plan_buttons, runs_of, said, wait_for_plan
from tests.support.slack import SignedSlack, eventually, mention, running_bot, slack_config
from tests.support.slack import start_research as _start

pytestmark = pytest.mark.anyio

QUICK = "[emulator:research_seconds=0.3]"
PLANNED = "[emulator:research_seconds=0.3][emulator:plan_seconds=0.1]"


@asynccontextmanager
async def signed_bot(settings: Settings, slack: FakeSlack, **config: Any) -> AsyncIterator[SignedSlack]:
    async with running_bot(settings, slack_config(slack, **config)) as bot:
        transport = httpx.ASGITransport(app=http_app(bot))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            yield SignedSlack(client, slack)


async def response_text(slack: FakeSlack, count: int) -> str:
    await slack.wait_for("response_url", count)
    return str(slack.responses[count - 1].get("text", ""))


async def test_app_home_shows_the_runs_cost_and_the_months_spend(
    signed: SignedSlack, slack: FakeSlack
) -> None:
    _, job_id = await _start(signed, slack, f"TPU history {QUICK}")
    await signed.event(mention("what is a TPU?"))
    await slack.wait_for("chat.postMessage", 2, where=lambda c: c.args.get("thread_ts") is not None)

    async def home_shows_it() -> bool:
        await signed.event({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"})
        await slack.wait_for("views.publish", 1, where=lambda c: c.args["user_id"] == "U1")
        view = json.dumps(slack.views.get("U1", {}))
        return "est. $" in view and "1 research run" in view

    await eventually(home_shows_it, timeout=20, what="the home tab with the run's cost")
    view = json.dumps(slack.views["U1"])
    month = f"{datetime.now(UTC):%B %Y}"
    assert "Your use this month" in view and "an estimated $" in view and month in view
    assert "1 answer and images, 1 research run" in view
    assert job_id in view and "not Google's bill" in view

    await signed.event({"type": "app_home_opened", "user": "U2", "channel": "D2", "tab": "home"})
    await slack.wait_for("views.publish", 1, where=lambda c: c.args["user_id"] == "U2")
    assert "Nothing yet in" in json.dumps(slack.views["U2"])


async def test_usage_command_totals_per_person_and_per_day(signed: SignedSlack, slack: FakeSlack) -> None:
    await signed.event(mention("first question", user="U1"))
    await signed.event(mention("second question", user="U2"))
    await signed.event(mention("third question", user="U2"))
    await slack.wait_for("chat.postMessage", 3, where=lambda c: c.args.get("thread_ts") is not None)

    await signed.command("usage", user_id="U1")
    text = await response_text(slack, 1)
    today = datetime.now(UTC).date().isoformat()
    assert "*Per person*" in text and "*Per day*" in text
    assert "• <@U2>: 2 calls (0 research)" in text and "• <@U1>: 1 call (0 research)" in text
    assert text.index("<@U2>") < text.index("<@U1>")  # most spent first
    assert f"• {today}: 3 calls" in text and "est. $" in text
    assert "*You:* 1 answer and images, 0 research runs" in text
    assert "not Google's bill" in text


async def test_research_is_limited_to_listed_users_groups_and_channels(
    settings: Settings, slack: FakeSlack
) -> None:
    slack.usergroups["S0GROUP"] = ["U2"]
    async with signed_bot(settings, slack, research_allowed=frozenset({"S0GROUP", "C9", "U7"})) as signed:
        await signed.command(f"research not for U1 {QUICK}", user_id="U1")
        refused = await response_text(slack, 1)
        await signed.event(mention(f"research from a mention {QUICK}", user="U1"))
        [ephemeral] = await slack.wait_for("chat.postEphemeral", 1)
        for user, channel in (("U2", "C1"), ("U3", "C9"), ("U7", "C1")):
            await signed.command(f"research by {user} {QUICK}", user_id=user, channel_id=channel)
        started = await slack.wait_for(
            "chat.postMessage", 3, where=lambda c: "started research" in c.args.get("text", "")
        )

    assert "SLACK_RESEARCH_ALLOWED" in refused and "Ask the person who runs this bot" in refused
    assert ephemeral.args["user"] == "U1" and "SLACK_RESEARCH_ALLOWED" in ephemeral.args["text"]
    assert sorted(c.args["text"].split()[1] for c in started) == ["<@U2>", "<@U3>", "<@U7>"]
    assert len(slack.calls_to("usergroups.users.list")) == 1  # asked once, then remembered


async def test_a_group_that_cannot_be_read_lets_nobody_in_and_says_why(
    settings: Settings, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.usergroups["S0GROUP"] = ["U2"]
    slack.scopes = slack.scopes - {"usergroups:read"}  # installed before the manifest asked for it
    with caplog.at_level(logging.WARNING, logger="slack_bot.research_access"):
        async with signed_bot(settings, slack, research_allowed=frozenset({"S0GROUP"})) as signed:
            await signed.command(f"research {QUICK}", user_id="U2")
            refused = await response_text(slack, 1)
    assert "SLACK_RESEARCH_ALLOWED" in refused
    assert "missing_scope" in caplog.text and "usergroups:read" in caplog.text
    assert "usergroups:read" in manifest_scopes()  # the manifest asks for it


async def test_the_daily_limit_refuses_the_next_start_in_private(
    slack: FakeSlack, settings: Settings
) -> None:
    limited = settings.model_copy(update={"research_per_day": 1})
    async with signed_bot(limited, slack) as signed:
        await _start(signed, slack, f"first {QUICK}")
        await signed.command(f"research topic-two {QUICK}")
        refused = await response_text(slack, 1)
        await signed.command(f"research by someone else {QUICK}", user_id="U2")
        await slack.wait_for(
            "chat.postMessage", 2, where=lambda c: "started research" in c.args.get("text", "")
        )
    assert "GEMINI_INTERACTIONS_RESEARCH_PER_DAY=1" in refused and "00:00 UTC" in refused
    assert not any("topic-two" in c.args.get("text", "") for c in slack.calls_to("chat.postMessage"))


def test_the_allowed_list_is_read_and_checked() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    config = SlackConfig.from_env(env | {"SLACK_RESEARCH_ALLOWED": "U01, S02 C03,,G04"})
    assert config.research_allowed == {"U01", "S02", "C03", "G04"}
    assert SlackConfig.from_env(env).research_allowed == frozenset()
    with pytest.raises(ConfigurationError, match=r"'@alice'.*not Slack ids"):
        SlackConfig.from_env(env | {"SLACK_RESEARCH_ALLOWED": "U01,@alice"})


async def test_run_it_on_a_plan_meets_the_budget_and_the_plan_keeps_waiting(
    slack: FakeSlack, settings: Settings, emulator: EmulatorHandle
) -> None:
    spent = settings.model_copy(update={"monthly_budget_usd": Decimal("0.000001")})
    async with signed_bot(spent, slack) as signed:
        ts, job_id = await _start(signed, slack, f"--plan Wave power {PLANNED}")
        await wait_for_plan(slack, ts)  # its planning turn spends the whole budget
        await signed.action(RUN_ACTION, job_id, user_id="U1", message_ts=ts)
        refused = await said(slack, 1)
        still = slack.message("C1", ts)
    assert "monthly budget" in refused and "GEMINI_INTERACTIONS_MONTHLY_BUDGET_USD" in refused
    assert "00:00 UTC" in refused and "The plan still waits for you" in refused
    assert plan_buttons(still) == [RUN_ACTION, CHANGE_ACTION, CANCEL_ACTION]  # it can run next month
    assert runs_of(emulator, job_id) == []
