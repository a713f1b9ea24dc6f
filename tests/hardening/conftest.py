"""Fixtures for the hardening tests: the emulator as Gemini (one per module, on a free loopback port), a clean
environment, and the fault switches reset around each test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hardening_kit import drain_stray_tasks, other_tasks

from server.emulator import EmulatorConfig, EmulatorHandle, Faults, run_emulator_in_thread
from tests.pg import pg_server, pg_url  # noqa: F401  (re-exported: the PostgreSQL fixtures)

EMULATOR_CONFIG = dict(research_seconds=0.6, research_steps=2, report_chars=3000, retry_after_seconds=0.05)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, token, base URL or GEMINI_INTERACTIONS_* setting leaks in from the developer's environment."""
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
    handle = run_emulator_in_thread(EmulatorConfig(**EMULATOR_CONFIG), host="127.0.0.1", port=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def faults(emulator: EmulatorHandle) -> Iterator[Faults]:
    emulator.faults.clear()
    yield emulator.faults
    emulator.faults.clear()


@pytest.fixture
async def drained() -> AsyncIterator[None]:
    """For async tests whose Core closes with watchers in a query: let any SQLAlchemy close task left behind
    finish before the test's event loop closes (see hardening_kit.drain_stray_tasks)."""
    keep = await other_tasks()
    yield
    await drain_stray_tasks(keep)
