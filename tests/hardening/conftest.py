"""Fixtures for the hardening tests: the emulator as Gemini (one per module, on a free loopback port), a clean
environment, and the fault switches reset around each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from server.emulator import EmulatorConfig
from tests.support.tasks import drain_stray_tasks, other_tasks

EMULATOR_CONFIG: dict[str, Any] = dict(
    research_seconds=0.6, research_steps=2, report_chars=3000, retry_after_seconds=0.05
)


@pytest.fixture(scope="module")
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(**EMULATOR_CONFIG)


@pytest.fixture(autouse=True)
def _clean_environment(clean_env: None) -> None:
    """Every hardening test starts from a clean environment (tests/conftest.py)."""


@pytest.fixture
async def drained() -> AsyncIterator[None]:
    """For async tests whose Core closes with watchers in a query: let any SQLAlchemy close task left behind
    finish before the test's event loop closes (see tests/support/tasks.py)."""
    keep = await other_tasks()
    yield
    await drain_stray_tasks(keep)
