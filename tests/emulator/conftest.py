"""Fixtures: one emulator per session (uvicorn thread on a free 127.0.0.1 port), reset before every test,
and a real google-genai client pointed at it with retries off and a bounded timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from google import genai
from google.genai import types

from server.emulator import Emulator, EmulatorConfig, EmulatorHandle
from tests.support.emulator import clean_emulator, session_emulator

TEST_CONFIG = EmulatorConfig(
    research_seconds=0.3,
    research_steps=3,
    retry_after_seconds=0.05,
    hang_seconds=20.0,
)


@pytest.fixture(autouse=True)
def _no_vertex(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_API_VERSION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorHandle]:
    yield from session_emulator(TEST_CONFIG)


@pytest.fixture
def emu(emulator_server: EmulatorHandle) -> Iterator[Emulator]:
    """The shared emulator, clean: no interactions, stats or faults; the test config restored afterwards."""
    yield from clean_emulator(emulator_server, TEST_CONFIG)


def make_client(
    url: str, *, api_key: str = "test-key", timeout_ms: int = 10_000, **http: object
) -> genai.Client:
    return genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(
            base_url=url,
            retry_options=types.HttpRetryOptions(attempts=1),
            timeout=timeout_ms,
            **http,
        ),
    )


@pytest.fixture
async def client(emulator_server: EmulatorHandle, emu: Emulator) -> AsyncIterator[genai.Client]:
    c = make_client(emulator_server.url)
    yield c
    await c.aio.aclose()
