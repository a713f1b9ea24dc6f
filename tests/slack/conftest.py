"""Fixtures for the Slack bot: the emulator as Gemini, a fake Slack Web API, the real core, and the bot's real
Starlette route driven with properly signed requests through httpx's ASGI transport."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_testkit import SignedSlack, make_settings, running_bot, slack_config

from server.core.settings import Settings
from server.emulator import EmulatorConfig, EmulatorHandle, run_emulator_in_thread
from slack_bot.bot import SlackBot
from slack_bot.config import SlackConfig
from slack_bot.http import http_app
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the developer's environment (keys, base URLs, GEMINI_INTERACTIONS_*) leaks in."""
    for name in list(os.environ):
        if name.startswith(("GEMINI_INTERACTIONS_", "SLACK_")) or name in (
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "GOOGLE_GEMINI_BASE_URL",
            "GOOGLE_GENAI_USE_VERTEXAI",
        ):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    config = EmulatorConfig(research_seconds=0.8, research_steps=2, report_chars=3000)
    handle = run_emulator_in_thread(config, host="127.0.0.1", port=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def faults(emulator: EmulatorHandle) -> Iterator[Any]:
    emulator.faults.clear()
    yield emulator.faults
    emulator.faults.clear()


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
