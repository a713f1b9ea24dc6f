"""server.core.logs: text and JSON lines, the interaction id carried by research logs, and secret redaction."""

from __future__ import annotations

import io
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from server.core import Core, Settings, logs
from server.core.domain import Origin, ResearchJob
from server.emulator import EmulatorHandle
from tests.support.env import REPO, SCRIPTS, TEST_KEY, host_env, make_settings
from tests.support.processes import json_lines, stop_process

SECRET = "sk-structured-logs-secret-0042"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger sent to a StringIO by configure_logging (restored afterwards)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def test_json_lines_have_the_documented_fields(captured: io.StringIO) -> None:
    logs.configure_logging("DEBUG", "json", stream=captured)
    log = logging.getLogger("tests.hardening")
    log.info("plain %s", "line")
    with logs.interaction_context("v1_abc"):
        log.warning("inside")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("failed")
    log.debug("after")
    first, inside, failed, after = json_lines(captured.getvalue())
    assert set(first) == {"time", "level", "logger", "message"}
    assert (
        first["level"] == "INFO" and first["logger"] == "tests.hardening" and first["message"] == "plain line"
    )
    assert first["time"].endswith("+00:00")
    assert inside["interaction_id"] == "v1_abc" and inside["level"] == "WARNING"
    assert failed["interaction_id"] == "v1_abc" and "RuntimeError: boom" in failed["exception"]
    assert "interaction_id" not in after  # the context ended with the with-block


def test_text_lines_show_the_interaction_id(captured: io.StringIO) -> None:
    logs.configure_logging("INFO", "text", stream=captured)
    log = logging.getLogger("tests.hardening")
    with logs.interaction_context("v1_xyz"):
        log.info("watching")
    log.info("idle")
    watching, idle = captured.getvalue().splitlines()
    assert watching.endswith("INFO tests.hardening [v1_xyz]: watching")
    assert idle.endswith("INFO tests.hardening: idle")


def test_secrets_are_redacted_from_messages_arguments_and_tracebacks(
    captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-" + SECRET)
    monkeypatch.setenv("GEMINI_INTERACTIONS_DATABASE_URL", f"postgresql+asyncpg://app:{SECRET}@db/x")
    monkeypatch.setenv("SLACK_APP_TOKEN", "short")  # too short to be treated as a secret: left alone
    logs.configure_logging("DEBUG", "json", stream=captured)
    log = logging.getLogger("tests.hardening")
    log.info("key=%s", SECRET)
    log.info(f"header: signing-{SECRET}")
    try:
        raise ValueError(f"the server said {SECRET}")
    except ValueError:
        log.exception("call failed")
    log.info("where", stack_info=True)
    log.info("a short value stays: short")
    output = captured.getvalue()
    assert SECRET not in output
    records = json_lines(output)
    assert records[0]["message"] == "key=[redacted]"
    assert records[1]["message"] == "header: [redacted]"
    assert "the server said [redacted]" in records[2]["exception"]
    assert records[4]["message"] == "a short value stays: short"


def test_the_log_format_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(logs.LOG_FORMAT_ENV, "JSON")
    assert logs.log_format_from_env() == "json"
    monkeypatch.setenv(logs.LOG_FORMAT_ENV, "yaml")
    with pytest.raises(ValueError, match="GEMINI_INTERACTIONS_LOG_FORMAT must be 'text' or 'json'"):
        logs.log_format_from_env()


def test_a_bad_log_format_stops_the_mcp_server_with_one_line(tmp_path: Path) -> None:
    env = host_env(GEMINI_INTERACTIONS_LOG_FORMAT="xml", GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [str(SCRIPTS / "gemini-interactions-mcp")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "GEMINI_INTERACTIONS_LOG_FORMAT must be 'text' or 'json'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.anyio
@pytest.mark.usefixtures("drained")
async def test_research_log_lines_carry_the_interaction_id_in_process(
    captured: io.StringIO, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Both watchers log with the id: the one spawned by start(), and the one a restarted process resumes."""
    logs.configure_logging("DEBUG", "json", stream=captured)
    settings = make_settings(tmp_path / "data", emulator.url)
    async with Core.running(settings) as core:
        await core.ready()
        job = await core.research.start("Heat pumps [emulator:research_seconds=1.5]", origin=Origin("mcp"))
    assert not (await _job(settings, job.interaction_id)).terminal  # stopped while it ran
    before_restart = len(captured.getvalue().splitlines())
    async with Core.running(settings) as core:
        await core.ready()
        with anyio.fail_after(30):
            while True:
                if (await core.research.get(job.interaction_id, viewer=Origin("mcp"))).terminal:
                    break
                await anyio.sleep(0.05)
    records = json_lines(captured.getvalue())
    about_job = [r for r in records if job.interaction_id in r["message"]]
    messages = [r["message"] for r in about_job]
    assert any("started" in m for m in messages), messages
    resumed = [r for r in records[before_restart:] if r["logger"] == "server.core.research"]
    assert any("finished: completed" in r["message"] for r in resumed), messages
    with_id = [r for r in about_job if r["message"] != f"watching research {job.interaction_id}"]
    assert all(r.get("interaction_id") == job.interaction_id for r in with_id), about_job


async def _job(settings: Settings, interaction_id: str) -> ResearchJob:
    from server.core.store import Store

    store = await Store.open(settings.resolved_database_url())
    try:
        job = await store.get_job(interaction_id)
    finally:
        await store.close()
    assert job is not None
    return job


@pytest.mark.anyio
async def test_mcp_server_json_logs_over_stdio(emulator: EmulatorHandle, tmp_path: Path) -> None:
    """The real console script at DEBUG in JSON mode: every stderr line is a JSON object, and the research
    watcher's lines carry the run's interaction id."""
    errlog = tmp_path / "stderr.jsonl"
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
        GEMINI_INTERACTIONS_LOG_FORMAT="json",
    )
    params = StdioServerParameters(
        command=str(SCRIPTS / "gemini-interactions-mcp"),
        args=["--log-level", "DEBUG"],
        env=env,
        cwd=str(REPO),
    )
    with anyio.fail_after(90), errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err)) as client:
            started = await client.call_tool(
                "start_research", {"prompt": "Wind [emulator:research_seconds=0.3]"}
            )
            iid = started.structured_content["interaction_id"]
            while True:
                status = await client.call_tool("research_status", {"interaction_id": iid})
                if status.structured_content["status"] != "in_progress":
                    break
                await anyio.sleep(0.05)
            missing = await client.call_tool("research_status", {"interaction_id": "v1_not-here"})
    assert status.structured_content["status"] == "completed" and missing.is_error
    records = json_lines(errlog.read_text())
    assert {r["level"] for r in records} >= {"INFO"}
    research = [r for r in records if r["logger"] == "server.core.research" and iid in r["message"]]
    assert len(research) >= 2, records
    assert all(r.get("interaction_id") == iid for r in research), research
    assert TEST_KEY not in errlog.read_text()


def test_emulator_notice_is_a_json_record_in_json_mode(tmp_path: Path) -> None:
    """--emulator's loud notice must not break a JSON-lines stderr."""
    env = host_env(GEMINI_INTERACTIONS_LOG_FORMAT="json", GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path))
    errlog = tmp_path / "stderr.jsonl"
    with errlog.open("wb") as err:
        proc = subprocess.Popen(
            [str(SCRIPTS / "gemini-interactions-mcp"), "--emulator"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=REPO,
        )
    try:
        deadline = time.monotonic() + 30
        while "EMULATOR MODE" not in errlog.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, errlog.read_text()
            time.sleep(0.05)
    finally:
        stop_process(proc)
    records = json_lines(errlog.read_text())
    notice = [r for r in records if "EMULATOR MODE" in r["message"]]
    assert notice and notice[0]["level"] == "WARNING", records


@pytest.mark.anyio
@pytest.mark.usefixtures("drained")
async def test_every_way_a_run_ends_is_logged_once_with_its_id(
    captured: io.StringIO, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Completed, cancelled and timed out: one "finished" line each, carrying the run's id."""
    logs.configure_logging("INFO", "json", stream=captured)
    settings = make_settings(tmp_path / "data", emulator.url, research_deadline_seconds=2.0)
    mcp = Origin("mcp")
    async with Core.running(settings) as core:
        await core.ready()
        done = await core.research.start("Solar [emulator:research_seconds=0.3]", origin=mcp)
        stuck = await core.research.start("Dust [emulator:stuck]", origin=mcp)
        dropped = await core.research.start("Wind [emulator:stuck]", origin=mcp)
        await core.research.cancel(dropped.interaction_id, viewer=mcp)
        with anyio.fail_after(30):
            while True:
                jobs = [await core.research.get(j.interaction_id, viewer=mcp) for j in (done, stuck)]
                if all(job.terminal for job in jobs):
                    break
                await anyio.sleep(0.05)
    assert [job.status for job in jobs] == ["completed", "timed_out"]
    finished = [
        r
        for r in json_lines(captured.getvalue())
        if r["logger"] == "server.core.research" and " finished: " in r["message"]
    ]
    by_id = {r["interaction_id"]: r["message"] for r in finished}
    assert len(finished) == 3 == len(by_id), finished
    assert by_id[done.interaction_id].endswith("finished: completed")
    assert by_id[stuck.interaction_id].endswith("finished: timed_out")
    assert by_id[dropped.interaction_id].endswith("finished: cancelled")
