"""Fixtures for the scale-out tests: a real PostgreSQL (``tests/support/pg_fixtures.py``), the emulator as Gemini and the fake
Slack Web API, both in this process; the replicas themselves are subprocesses (``scale_cluster.Cluster``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.emulator import EmulatorConfig
from tests.fakes.slack_api import FakeSlack


@pytest.fixture(scope="module")
def emulator_config() -> EmulatorConfig:
    """One emulator per module (tests/conftest.py): every test makes its own interactions, so records never
    mix."""
    return EmulatorConfig(research_seconds=2.0, research_steps=2, report_chars=2000)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake
