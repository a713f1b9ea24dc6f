"""Fixtures for the Slack bot: the emulator as Gemini, a fake Slack Web API, the real core, and the bot's real
Starlette route driven with properly signed requests through httpx's ASGI transport."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.core import Settings
from server.emulator import EmulatorConfig, EmulatorHandle
from slack_bot.bot import SlackBot
from slack_bot.config import SlackConfig
from slack_bot.http import http_app
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_scopes import SESSION
from tests.support.env import make_settings
from tests.support.slack import SignedSlack, running_bot, slack_config


@pytest.fixture(scope="module")
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(research_seconds=0.8, research_steps=2, report_chars=3000)


@pytest.fixture(autouse=True)
def _clean_environment(clean_env: None) -> None:
    """Every Slack test starts from a clean environment (tests/conftest.py)."""


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def settings(tmp_path: Path, emulator: EmulatorHandle) -> Settings:
    return make_settings(tmp_path / "data", emulator.url)


@pytest.fixture
def config(slack: FakeSlack) -> SlackConfig:
    return slack_config(slack)


@pytest.fixture
async def bot(settings: Settings, config: SlackConfig) -> AsyncIterator[SlackBot]:
    async with running_bot(settings, config) as running:
        yield running


@pytest.fixture
async def signed(bot: SlackBot, slack: FakeSlack) -> AsyncIterator[SignedSlack]:
    transport = httpx.ASGITransport(app=http_app(bot))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        yield SignedSlack(client, slack)


# --------------------------------------------------------------------------- the scope test runs last

SCOPE_TEST = "test_scopes.py"
USAGE_FILE_ENV = "TEST_SLACK_USAGE_FILE"  # where a run of the Slack suite leaves its record (test_scopes.py)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The scope test judges what every other test made the bot do: it runs after all of them."""
    last = [item for item in items if item.path.name == SCOPE_TEST]
    items[:] = [item for item in items if item.path.name != SCOPE_TEST] + last


def pytest_deselected(items: list[pytest.Item]) -> None:
    if any(item.path.parent == Path(__file__).parent for item in items):
        SLACK_TESTS_DESELECTED.append(len(items))


SLACK_TESTS_DESELECTED: list[int] = []
_USAGE_FILE = os.environ.get(USAGE_FILE_ENV)  # read now: tests clear the environment as they run


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _USAGE_FILE:
        SESSION.save(Path(_USAGE_FILE))
