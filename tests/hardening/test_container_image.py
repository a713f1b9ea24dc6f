"""The Docker image runs only what the project ships: every command its Dockerfile and entrypoint run is a console
script in pyproject's [project.scripts] that starts (``uv run <script> --help``) and accepts the flags the
entrypoint passes; the entrypoint's roles and the health check work. (CI lints the Dockerfile with hadolint;
no Docker daemon is needed here.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from server.emulator import EmulatorHandle
from tests.support.env import REPO, SCRIPTS, TEST_KEY, free_port, host_env
from tests.support.processes import mcp_http_process, readiness, wait_ready, wait_until

DOCKERFILE = REPO / "Dockerfile"
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
HEALTHCHECK = REPO / "docker" / "healthcheck.py"
UV = os.environ.get("UV", "uv")  # uv sets UV for what it runs: the same uv as this test run


def instructions(text: str) -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def project_scripts() -> dict[str, str]:
    with (REPO / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["project"]["scripts"])


def entrypoint_execs() -> dict[str, list[list[str]]]:
    """role → every command line its branch may exec (from docker/entrypoint.sh's case statement)."""
    text = ENTRYPOINT.read_text()
    branches = re.findall(r"^\s*([\w*|-]+)\)\s*\n([\s\S]*?);;", text, re.MULTILINE)
    return {role: [line.split() for line in re.findall(r"exec ([^\n;]+)", body)] for role, body in branches}


def test_every_command_the_image_runs_is_a_console_script_that_starts() -> None:
    scripts = project_scripts()
    steps = instructions(DOCKERFILE.read_text())
    final_stage = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM") :]
    entry = json.loads(next(args for k, args in final_stage if k == "ENTRYPOINT"))
    cmd = json.loads(next(args for k, args in final_stage if k == "CMD"))
    health = next(args for k, args in final_stage if k == "HEALTHCHECK")
    copies = [args.split() for k, args in final_stage if k == "COPY" and "--from" not in args]

    # The entrypoint and the health check are the repository's files, copied where the image runs them.
    assert entry == ["/app/entrypoint.sh"]
    assert ["docker/entrypoint.sh", "docker/healthcheck.py", "/app/"] in copies
    assert json.loads(health.split("CMD", 1)[1]) == ["python", "/app/healthcheck.py", "/readyz"]

    execs = entrypoint_execs()
    assert set(execs) >= {"mcp", "slack"} and cmd[0] in execs, execs
    commands = {
        role: {line[0] for line in lines} for role, lines in execs.items() if not lines[0][0].startswith('"$')
    }
    assert commands == {"mcp": {"gemini-interactions-mcp"}, "slack": {"gemini-interactions-slack"}}
    for role, (command,) in commands.items():
        assert command in scripts, f"role {role} runs {command}, which is not in [project.scripts]"
        # Every option the entrypoint passes is one the script knows.
        help_text = _uv_run_help(command)
        for flag in (word for line in execs[role] for word in line[1:] if word.startswith("--")):
            assert flag in help_text, f"{command} does not accept {flag}"
    for script in scripts:  # and every script the image installs starts
        _uv_run_help(script)


def _uv_run_help(script: str) -> str:
    result = subprocess.run(
        [UV, "run", "--no-sync", script, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"uv run {script} --help failed:\n{result.stderr}"
    assert "usage:" in result.stdout, result.stdout
    return result.stdout


def _entrypoint(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env=host_env(PATH=f"{SCRIPTS}{os.pathsep}{os.environ['PATH']}", **env),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("args", "program"),
    [
        (["mcp", "--help"], "gemini-interactions-mcp"),
        (["slack", "--help"], "gemini-interactions-slack"),
        (["--log-level", "DEBUG", "--help"], "gemini-interactions-mcp"),  # options alone mean mcp
        (["gemini-interactions-emulator", "--help"], "gemini-interactions-emulator"),
    ],
    ids=["mcp", "slack", "mcp-options", "other-command"],
)
def test_entrypoint_roles(args: list[str], program: str) -> None:
    result = _entrypoint(*args)
    assert result.returncode == 0, result.stderr
    assert f"usage: {program}" in result.stdout


def test_entrypoint_refuses_an_unknown_role() -> None:
    result = _entrypoint("mpc")
    assert result.returncode == 64
    assert "unknown role or command 'mpc'" in result.stderr


def _health(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *args],
        env=host_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_health_check_asks_the_server_for_readiness(emulator: EmulatorHandle, tmp_path: Path) -> None:
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
    )
    with mcp_http_process(env, tmp_path / "server.log") as server:
        port = server.url.rsplit(":", 1)[1].split("/")[0]
        wait_ready(server.url.removesuffix("/mcp"), server.process, server.log)
        assert _health(PORT=port).returncode == 0  # /readyz: the store opened
        assert _health("/healthz", PORT=port).returncode == 0
    unanswered = _health(PORT=str(free_port()))  # nothing listening: unhealthy
    assert unanswered.returncode == 1 and "/readyz" in unanswered.stderr
    assert _health("/metrics", PORT=port).returncode == 2


def test_health_check_reports_why_a_server_is_not_ready(tmp_path: Path) -> None:
    """A server whose database is not up: liveness passes, readiness fails and says why (docker inspect)."""
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        GEMINI_INTERACTIONS_DATABASE_URL=f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/gemini",
    )
    with mcp_http_process(env, tmp_path / "server.log") as server:
        port = server.url.rsplit(":", 1)[1].split("/")[0]
        base = server.url.removesuffix("/mcp")
        retrying = wait_until(
            lambda: readiness(base)[1].get("store") == "retrying", server.process, server.log, "a failed open"
        )
        assert retrying
        assert _health("/healthz", PORT=port).returncode == 0
        not_ready = _health(PORT=port)
    assert not_ready.returncode == 1, not_ready.stderr
    assert "503" in not_ready.stderr and "could not be opened yet" in not_ready.stderr, not_ready.stderr


def test_socket_mode_gets_a_health_port_from_the_entrypoint() -> None:
    """The bot in Socket Mode serves no Slack HTTP: the entrypoint gives it --health-port $PORT instead."""
    [with_token, http_mode] = entrypoint_execs()["slack"]
    assert with_token[with_token.index("--health-port") + 1] == '"${PORT:-8000}"'
    assert "--health-port" not in http_mode and "--port" in http_mode
    assert 'if [ -n "${SLACK_APP_TOKEN:-}" ]' in ENTRYPOINT.read_text()
