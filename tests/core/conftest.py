"""Fixtures for the core: one emulator per session (reset per test) and a Core on a fresh data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from server.core import Core, Settings
from server.emulator import Emulator, EmulatorConfig, EmulatorHandle
from tests.support.emulator import clean_emulator, session_emulator

TEST_CONFIG = EmulatorConfig(
    research_seconds=0.5, research_steps=3, retry_after_seconds=0.05, hang_seconds=20.0
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorHandle]:
    yield from session_emulator(TEST_CONFIG)


@pytest.fixture
def emu(emulator_server: EmulatorHandle) -> Iterator[Emulator]:
    yield from clean_emulator(emulator_server, TEST_CONFIG)


@pytest.fixture
def settings_for(tmp_path: Path, emulator_server: EmulatorHandle) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "base_url": emulator_server.url,
            "api_key": "test-key",
            "poll_seconds": 0.05,
            "stream_read_timeout_seconds": 2.0,
            "request_timeout_seconds": 5.0,
            "lease_seconds": 2.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def core_for(settings_for: Callable[..., Settings]) -> Callable[..., AbstractAsyncContextManager[Core]]:
    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[Core]:
        async with Core.running(settings_for(**overrides)) as core:
            await core.ready()
            yield core

    return make
