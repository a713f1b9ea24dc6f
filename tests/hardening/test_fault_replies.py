"""Each upstream fault, one at a time, on each foreground door: the affected call gets an error that says what
happened and what to do next, and the very next call is served normally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.emulator import EmulatorHandle, Faults
from server.mcp.app import build_server
from tests.support.env import make_settings
from tests.support.mcp import connect, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("drained")]

FAULTS: dict[str, tuple[Any, str]] = {
    "429": (lambda f: f.rate_limit(1, kind="create", retry_after=2), "rate limit"),
    "500": (lambda f: f.server_error(500, 1, kind="create"), "server error (500"),
    "503": (lambda f: f.server_error(503, 1, kind="create"), "server error (503"),
    "timeout": (lambda f: f.hang(1, kind="create"), "did not answer in time"),
    "malformed-json": (lambda f: f.malformed_json(1, kind="create"), "could not read"),
    "reset": (lambda f: f.reset_connection(1, kind="create"), "Could not reach the Gemini API"),
}
NEXT_STEP = ("try again", "retry", "wait")
CALLS = {
    "ask": {"prompt": "hello"},
    "generate_image": {"prompt": "a kite"},
    "start_research": {"prompt": "Kites [emulator:research_seconds=0.2]"},
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_each_fault_gets_a_clear_error_and_the_next_call_works(
    emulator: EmulatorHandle, faults: Faults, tmp_path: Path, fault: str
) -> None:
    arm, what = FAULTS[fault]
    server = build_server(make_settings(tmp_path / "data", emulator.url, request_timeout_seconds=1.0))
    async with connect(server) as client:
        for tool, arguments in CALLS.items():
            arm(faults)
            failed = await client.call_tool(tool, arguments)
            served = await client.call_tool(tool, arguments)
            message = text_of(failed)
            assert failed.is_error and what in message, (tool, message)
            assert any(step in message.lower() for step in NEXT_STEP), (tool, message)
            assert "Traceback" not in message and "unexpected problem" not in message, (tool, message)
            assert not served.is_error, (tool, text_of(served))
