"""Slowloris at both HTTP doors: 300 connections each, half sending their head a byte at a time, half their body.
uvicorn alone held every one of them open for as long as the bytes kept coming; with the head and body read
timeouts each is closed soon after its deadline (figures printed with ``-s``), and the door still serves."""

from __future__ import annotations

from pathlib import Path
from statistics import median

import httpx
import pytest

from server.emulator import EmulatorHandle
from slack_bot.http import EVENTS_PATH
from tests.fakes.slack_api import FakeSlack
from tests.support.env import TEST_KEY, host_env
from tests.support.processes import mcp_http_process
from tests.support.slack_process import bot_env, bot_process

from .hostile_clients import Trickle, slowloris

pytestmark = pytest.mark.anyio

CONNECTIONS = 300
TIMEOUTS = {
    "GEMINI_INTERACTIONS_HTTP_HEADER_TIMEOUT_SECONDS": "1",
    "GEMINI_INTERACTIONS_HTTP_BODY_TIMEOUT_SECONDS": "1",
}
WITHIN = 30.0  # generous: every connection should be gone within a couple of seconds


def _check(door: str, trickles: list[Trickle]) -> None:
    closed = [t.closed_after for t in trickles if t.closed_after is not None]
    if closed:
        print(f"\n{door}: {len(closed)}/{len(trickles)} slow connections closed; median {median(closed):.1f} s, "
              f"max {max(closed):.1f} s")  # fmt: skip
    assert len(closed) == len(trickles), f"{len(trickles) - len(closed)} slow connections still open"
    # A slow body gets 408 (on /mcp some get 429 first: more than 100 would-be sessions of one owner at once) and
    # is hung up on; a slow head, and a body still coming after the answer, are hung up on without one.
    assert {t.answer for t in trickles} <= {408, 429, None}


async def test_the_mcp_door_closes_slow_connections(emulator: EmulatorHandle, tmp_path: Path) -> None:
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        **TIMEOUTS,
    )
    with mcp_http_process(env, tmp_path / "server.log") as server:
        trickles = await slowloris(server.url, "/mcp", CONNECTIONS, interval=0.3, within=WITHIN)
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(server.url.replace("/mcp", "/healthz"))).status_code == 200
    _check("mcp", trickles)


async def test_the_slack_door_closes_slow_connections(emulator: EmulatorHandle, tmp_path: Path) -> None:
    async with (
        FakeSlack() as slack,
        bot_process(bot_env(slack, emulator, tmp_path / "data", **TIMEOUTS)) as bot,
    ):
        trickles = await slowloris(bot.url, EVENTS_PATH, CONNECTIONS, interval=0.3, within=WITHIN)
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{bot.url}/healthz")).status_code == 200
    _check("slack", trickles)
