"""Every command runs on the one runner: ``--log-format`` on each, and in JSON mode every line on stderr is a
JSON object, the ``--emulator`` banner and a start-up failure included (no traceback)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.env import REPO, SCRIPTS, host_env
from tests.support.processes import json_lines, wait_until

COMMANDS = ("gemini-interactions-mcp", "gemini-interactions-slack", "gemini-interactions-emulator")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_the_shared_logging_options(command: str) -> None:
    result = subprocess.run(
        [str(SCRIPTS / command), "--help"], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert "--log-format" in result.stdout and "--log-level" in result.stdout


def test_the_slack_bot_in_json_mode_says_everything_in_json_even_when_slack_is_unreachable(
    tmp_path: Path,
) -> None:
    env = host_env(
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path),
        GEMINI_INTERACTIONS_LOG_FORMAT="json",
        SLACK_BOT_TOKEN="xoxb-unreachable",
        SLACK_SIGNING_SECRET="signing-secret-for-tests",
        SLACK_API_URL="http://127.0.0.1:9/api/",  # the discard port: nothing listens
    )
    result = subprocess.run(
        [str(SCRIPTS / "gemini-interactions-slack"), "--emulator", "--port", "0"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result.stderr
    records = json_lines(result.stderr)
    messages = [record["message"] for record in records]
    assert any("EMULATOR MODE" in message for message in messages), messages
    assert "Could not reach Slack's Web API at http://127.0.0.1:9/api/" in messages[-1], messages
    assert "SLACK_API_URL" in messages[-1]
    assert "Traceback" not in result.stderr


def test_the_emulator_command_logs_json_and_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "emulator.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                str(SCRIPTS / "gemini-interactions-emulator"),
                "--port",
                "0",
                "--log-format",
                "json",
                "--log-level",
                "info",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=REPO,
        )
    try:
        assert proc.stdout is not None
        assert b"listening on http://127.0.0.1:" in proc.stdout.readline()
        wait_until(
            lambda: "Application startup complete" in log.read_text() or None, proc, log, "the emulator"
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
    records = json_lines(log.read_text())
    assert [r["message"] for r in records][-1] == "emulator stopped", records
