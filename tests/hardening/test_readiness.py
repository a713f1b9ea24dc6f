"""Servers started before their PostgreSQL: alive at once (``/healthz`` 200), not ready (``/readyz`` 503, saying
why) while the database is down, ready once it comes up (the store opened by the retries, its migrations
applied), and then the unfinished research runs resume. The MCP server over HTTP, and the Slack bot in Socket
Mode on its ``--health-port``; each a real subprocess, PostgreSQL really stopped and started again."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import Process
from slack_sdk.web.async_client import AsyncWebClient

from server.core import Core, Origin
from server.core.store.migrations import MIGRATIONS
from server.emulator import EmulatorHandle
from slack_bot.destinations import thread_destination
from tests.fakes.slack_api import FakeSlack
from tests.support.env import REPO, TEST_KEY, free_port, host_env, make_settings
from tests.support.mcp import http_client, text_of
from tests.support.postgres import PostgresServer
from tests.support.processes import mcp_http_process, readiness, wait_ready, wait_until
from tests.support.slack import is_report_summary
from tests.support.slack_process import bot_env, slack_executable

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.usefixtures("drained")]

TOKEN = "alice-secret-token-0123456789"
SCHEMA = MIGRATIONS[-1].__name__


def _mcp_env(emulator: EmulatorHandle, data_dir: Path, database_url: str) -> dict[str, str]:
    return host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(data_dir),
        GEMINI_INTERACTIONS_DATABASE_URL=database_url,
        GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
        GEMINI_INTERACTIONS_LEASE_SECONDS="2",
        GEMINI_INTERACTIONS_MCP_TOKEN=TOKEN,
    )


async def test_an_mcp_server_started_before_its_postgres_becomes_ready_and_resumes_the_runs(
    own_pg_server: PostgresServer, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    database_url = own_pg_server.create_database("gemini")
    env = _mcp_env(emulator, tmp_path / "data", database_url)
    # An earlier server started a run and was killed (kill -9: its lease on the run is left to expire).
    with mcp_http_process(env, tmp_path / "earlier.log") as earlier:
        async with http_client(earlier.url, TOKEN) as client:
            started = await client.call_tool(
                "start_research", {"prompt": "Tides [emulator:research_seconds=4]"}
            )
            assert not started.is_error, text_of(started)
            iid = started.structured_content["interaction_id"]
        earlier.process.send_signal(signal.SIGKILL)
        earlier.process.wait(10)
    await anyio.to_thread.run_sync(own_pg_server.pause)

    with mcp_http_process(env, tmp_path / "server.log") as server:  # it waits for /healthz: alive
        base = server.url.removesuffix("/mcp")
        wait_until(
            lambda: readiness(base)[1].get("store") == "retrying", server.process, server.log, "a retry"
        )
        status, body = readiness(base)
        assert status == 503 and not body["ready"] and body["migrations"] is None, body
        assert "could not be opened yet" in body["detail"] and "postgres" not in body["detail"].lower(), body
        async with http_client(server.url, TOKEN) as client:
            waiting = await client.call_tool("research_status", {"interaction_id": iid})
            creates = emulator.stats.by_kind["create"]
            answered = await client.call_tool("ask", {"prompt": "kept as this caller's"})
        assert waiting.is_error and "not ready yet" in text_of(waiting), text_of(waiting)
        assert "Try again in a moment" in text_of(waiting)
        # A named caller's answer is recorded as theirs (#13): refused before Gemini is paid for it.
        assert answered.is_error and "not ready yet" in text_of(answered), text_of(answered)
        assert emulator.stats.by_kind["create"] == creates

        await anyio.to_thread.run_sync(own_pg_server.resume)
        body = wait_ready(base, server.process, server.log, timeout=60)
        assert (body["store"], body["migrations"]) == ("open", SCHEMA), body
        async with http_client(server.url, TOKEN) as client:
            with anyio.fail_after(60):
                while True:
                    result = await client.call_tool("research_status", {"interaction_id": iid})
                    assert not result.is_error, text_of(result)
                    if result.structured_content["status"] != "in_progress":
                        break
                    await anyio.sleep(0.2)
        log = server.output()
    assert result.structured_content["status"] == "completed", result.structured_content
    assert "opening the job store failed (attempt 1" in log and "the job store is open" in log, log


def _text(log: Path) -> str:
    return log.read_text(errors="replace")


@asynccontextmanager
async def socket_mode_bot(env: dict[str, str], log: Path, health_port: int) -> AsyncIterator[Process]:
    """The bot in Socket Mode as a subprocess; stopped with SIGTERM without blocking the loop the fake Slack
    runs on (its connection closes through the fake)."""
    command = [slack_executable(), "--health-port", str(health_port)]
    with log.open("wb") as err:
        proc = await anyio.open_process(
            command, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env, cwd=REPO
        )
    async with proc:
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.terminate()
                with anyio.move_on_after(20):
                    await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, _text(log)


async def _get(base: str, path: str) -> tuple[int, dict[str, Any]]:
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            response = await http.get(f"{base}{path}")
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


async def _until(base: str, path: str, proc: Process, log: Path, ok: Any) -> dict[str, Any]:
    """Poll ``path`` (without blocking the fake Slack on this loop) until ``ok(status, body)``."""
    with anyio.fail_after(60):
        while True:
            assert proc.returncode is None, _text(log)
            status, body = await _get(base, path)
            if ok(status, body):
                return body
            await anyio.sleep(0.1)


async def test_a_socket_mode_bot_started_before_its_postgres_reports_readiness_on_its_health_port(
    own_pg_server: PostgresServer, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    database_url = own_pg_server.create_database("gemini")
    async with FakeSlack() as slack:
        # A run started from a Slack thread by an earlier process, unfinished when it stopped.
        posted = await AsyncWebClient(token=slack.bot_token, base_url=slack.api_url).chat_postMessage(
            channel="C1", text="Starting…"
        )
        ts = str(posted["ts"])
        origin = Origin("slack", owner="U1", team_id="T1", channel_id="C1", thread_ts=ts, message_ts=ts)
        settings = make_settings(tmp_path / "earlier", emulator.url, database_url=database_url)
        async with Core.running(settings) as core:
            await core.ready()
            job = await core.research.start(
                "Tides [emulator:research_seconds=3]",
                origin=origin,
                destinations=[thread_destination("T1", "C1", ts)],
            )
        await anyio.to_thread.run_sync(own_pg_server.pause)

        env = bot_env(slack, emulator, tmp_path / "data") | {
            "SLACK_APP_TOKEN": slack.app_token,
            "GEMINI_INTERACTIONS_DATABASE_URL": database_url,
        }
        port, log = free_port(), tmp_path / "bot.log"
        base = f"http://127.0.0.1:{port}"
        async with socket_mode_bot(env, log, port) as bot:
            await _until(base, "/healthz", bot, log, lambda status, _: status == 200)  # alive
            body = await _until(base, "/readyz", bot, log, lambda _, b: b.get("store") == "retrying")
            assert body["ready"] is False and body["slack"] == "connected", body
            status, _ = await _get(base, "/readyz")
            assert status == 503

            await anyio.to_thread.run_sync(own_pg_server.resume)
            body = await _until(base, "/readyz", bot, log, lambda status, _: status == 200)
            assert body == body | {"ready": True, "store": "open", "migrations": SCHEMA, "slack": "connected"}
            # The unfinished run resumed: its report reaches the thread it came from.
            [summary] = await slack.wait_for("chat.postMessage", 1, timeout=60, where=is_report_summary)
            assert summary.args["thread_ts"] == ts
            assert summary.args["metadata"]["event_payload"]["interaction_id"] == job.interaction_id

            # Readiness follows the Socket Mode connection: Slack gone, not ready (the bot reconnects).
            for ws in list(slack.sockets):
                await ws.close()
            body = await _until(base, "/readyz", bot, log, lambda status, _: status == 503)
            assert body["slack"] == "disconnected" and "Socket Mode" in body["detail"], body


async def test_health_port_is_refused_in_http_mode(tmp_path: Path) -> None:
    env = host_env(
        SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="secret", GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path)
    )
    with anyio.fail_after(60):
        result = await anyio.run_process(
            [slack_executable(), "--health-port", str(free_port())], env=env, check=False
        )
    stderr = result.stderr.decode()
    assert result.returncode == 2 and "--health-port is for Socket Mode" in stderr, stderr
