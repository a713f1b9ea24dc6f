"""Fixtures for the scale-out tests: a real PostgreSQL (``tests/pg.py``), the emulator as Gemini and the fake
Slack Web API, both in this process; the replicas themselves are subprocesses (``scale_cluster.Cluster``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from server.emulator import EmulatorConfig, EmulatorHandle, run_emulator_in_thread
from tests.fakes.slack_api import FakeSlack
from tests.pg import pg_server, pg_url  # noqa: F401  (re-exported: the PostgreSQL fixtures)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    """One emulator for the module: every test makes its own interactions, so records never mix."""
    config = EmulatorConfig(research_seconds=2.0, research_steps=2, report_chars=2000)
    handle = run_emulator_in_thread(config, host="127.0.0.1", port=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake
