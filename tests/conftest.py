"""Fixtures every test folder shares: the asyncio backend, a clean environment, the emulator as Gemini, and a
PostgreSQL (``tests/support/pg_fixtures.py``). Helpers that are not fixtures live in ``tests/support``.

A folder picks its emulator's behaviour by overriding ``emulator_config``; ``tests/core`` and ``tests/emulator``
keep one emulator per session instead, reset before every test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from server.emulator import EmulatorConfig, EmulatorHandle, Faults, run_emulator_in_thread

pytest_plugins = ["tests.support.pg_fixtures"]  # pg_server, pg_url: one PostgreSQL for the whole session


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--browser",
        action="store_true",
        help="also run the tests marked browser: the MCP App view in headless Chromium (needs chromium and "
        "node; .ci/run passes it)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run with --browser (or -m naming them), so that `uv run pytest` needs no browser."""
    if config.getoption("--browser") or "browser" in (config.option.markexpr or ""):
        return
    browser = [item for item in items if item.get_closest_marker("browser")]
    if browser:
        config.hook.pytest_deselected(items=browser)
        items[:] = [item for item in items if not item.get_closest_marker("browser")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, token, base URL or GEMINI_INTERACTIONS_* / SLACK_* setting leaks in from the developer's
    environment."""
    for name in list(os.environ):
        if name.startswith(("GEMINI_INTERACTIONS_", "SLACK_")) or name in (
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "GOOGLE_GEMINI_BASE_URL",
            "GOOGLE_GENAI_USE_VERTEXAI",
        ):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture(scope="module")
def emulator(emulator_config: EmulatorConfig) -> Iterator[EmulatorHandle]:
    """One emulator per test module, on a free loopback port: every test makes its own interactions."""
    handle = run_emulator_in_thread(emulator_config, host="127.0.0.1", port=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def faults(emulator: EmulatorHandle) -> Iterator[Faults]:
    """The emulator's fault switches, all off before and after the test."""
    emulator.faults.clear()
    yield emulator.faults
    emulator.faults.clear()
