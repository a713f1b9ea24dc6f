"""The job database unreachable for a moment (PostgreSQL refusing connections and dropping the open ones):
the MCP server keeps serving what needs no database, says clearly what failed, and loses no research job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from server.emulator import EmulatorHandle, Faults
from server.mcp.app import build_server
from tests.support.env import make_settings
from tests.support.mcp import connect, text_of
from tests.support.postgres import PostgresServer

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.usefixtures("drained")]


def _outage(pg: PostgresServer, database: str, *, on: bool) -> None:
    """A real outage of one database: new connections refused, the open ones (pool and LISTEN) dropped."""
    pg.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {"false" if on else "true"}')
    if on:
        pg.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")


async def _status(client: Client, iid: str) -> dict[str, Any]:
    result = await client.call_tool("research_status", {"interaction_id": iid})
    assert not result.is_error, text_of(result)
    return dict(result.structured_content or {})


async def test_a_database_outage_gets_clear_errors_and_loses_no_job(
    pg_server: PostgresServer, pg_url: str, emulator: EmulatorHandle, faults: Faults, tmp_path: Path
) -> None:
    database = pg_url.rsplit("/", 1)[1]
    settings = make_settings(tmp_path / "data", emulator.url, database_url=pg_url, lease_seconds=2.0)
    server = build_server(settings, transport="http")
    with anyio.fail_after(120):
        async with connect(server) as client:
            started = await client.call_tool(
                "start_research", {"prompt": "Tidal power [emulator:research_seconds=2.5]"}
            )
            iid = started.structured_content["interaction_id"]
            creates_before = emulator.stats.by_kind["create"]
            _outage(pg_server, database, on=True)
            try:
                answer = await client.call_tool("ask", {"prompt": "still there?"})
                status = await client.call_tool("research_status", {"interaction_id": iid})
                listed = await client.call_tool("list_research", {})
                refused = await client.call_tool("start_research", {"prompt": "Wave power"})
                await anyio.sleep(3.0)  # the watcher meets the outage too (its lease lapses meanwhile)
            finally:
                _outage(pg_server, database, on=False)

            # Kept serving: a plain question needs no database.
            assert not answer.is_error, text_of(answer)
            # Each affected call said what failed and what to do, without internals.
            for result in (status, listed):
                message = text_of(result)
                assert result.is_error and "job database could not be reached or written" in message, message
                assert "Traceback" not in message and "postgresql" not in message.lower(), message
            assert refused.is_error and "Nothing was sent to Gemini" in text_of(refused), text_of(refused)
            # Its intent could not be written, so no run was started: none can be left running unrecorded.
            assert emulator.stats.by_kind["create"] == creates_before + 1  # the plain question's alone

            # Nothing lost: the run started before the outage finishes and is reported once it is back.
            while True:
                done = await _status(client, iid)
                if done["status"] != "in_progress":
                    break
                await anyio.sleep(0.1)
            mine = await client.call_tool("list_research", {})
            report = await client.read_resource(f"research://{iid}")
    assert done["status"] == "completed", done
    assert done["total_chars"] > 1000 and report.contents[0].text.startswith("# ")
    assert [job["interaction_id"] for job in mine.structured_content["jobs"]] == [iid]
