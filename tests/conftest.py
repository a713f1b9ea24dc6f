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

# Suites a plain `uv run pytest` leaves out, each run with its own option (`.ci/run` passes them all) or by naming
# its marker in -m (`uv run pytest -m packaging`).
OPT_IN = {
    "browser": "the MCP App view in headless Chromium (needs chromium and node)",
    "packaging": "what users install: the wheel, the Claude Desktop bundle, the README's commands (npm, a minute or two)",
    "scale": "replicas as processes on one PostgreSQL: kill -9, SIGTERM hand-over, Slack retries (about 80 s)",
    "soak": "mixed operations for a while against a failing upstream (about 40 s)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    for marker, what in OPT_IN.items():
        parser.addoption(
            f"--{marker}", action="store_true", help=f"also run the tests marked {marker}: {what}"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    named = config.option.markexpr or ""
    left_out = {marker for marker in OPT_IN if not config.getoption(f"--{marker}") and marker not in named}
    deselected = [item for item in items if any(item.get_closest_marker(m) for m in left_out)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        gone = set(deselected)
        items[:] = [item for item in items if item not in gone]


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
