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
from tests.support.processes import mcp_http_process

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


def entrypoint_execs() -> dict[str, list[str]]:
    """role → the command line its branch execs (from docker/entrypoint.sh's case statement)."""
    text = ENTRYPOINT.read_text()
    branches = re.findall(r"^\s*([\w*|-]+)\)\s*\n?\s*(?:if[\s\S]*?fi\s*)?exec ([^\n;]+)", text, re.MULTILINE)
    return {role: line.split() for role, line in branches}


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
    assert json.loads(health.split("CMD", 1)[1]) == ["python", "/app/healthcheck.py"]

    execs = entrypoint_execs()
    assert set(execs) >= {"mcp", "slack"} and cmd[0] in execs, execs
    commands = {role: line[0] for role, line in execs.items() if not line[0].startswith('"$')}
    assert commands == {"mcp": "gemini-interactions-mcp", "slack": "gemini-interactions-slack"}
    for role, command in commands.items():
        assert command in scripts, f"role {role} runs {command}, which is not in [project.scripts]"
        # Every option the entrypoint passes is one the script knows.
        help_text = _uv_run_help(command)
        for flag in (word for word in execs[role][1:] if word.startswith("--")):
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


def _health(pid: int, **env: str) -> int:
    result = subprocess.run(
        [sys.executable, str(HEALTHCHECK), str(pid)],
        env=host_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.returncode


def test_health_check_asks_the_server(emulator: EmulatorHandle, tmp_path: Path) -> None:
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
    )
    with mcp_http_process(env, tmp_path / "server.log") as server:
        port = server.url.rsplit(":", 1)[1].split("/")[0]
        assert _health(server.pid, PORT=port) == 0
    assert _health(os.getpid(), PORT=str(free_port())) == 1  # nothing listening: unhealthy


def test_health_check_in_slack_socket_mode_has_nothing_to_ask(tmp_path: Path) -> None:
    """The bot in Socket Mode serves no HTTP: healthy while it runs. In HTTP mode it must answer /healthz."""
    stand_in = subprocess.Popen(["bash", "-c", "exec -a gemini-interactions-slack sleep 60"])
    try:
        port = str(free_port())
        assert _health(stand_in.pid, PORT=port, SLACK_APP_TOKEN="xapp-1") == 0
        assert _health(stand_in.pid, PORT=port) == 1
    finally:
        stand_in.kill()
        stand_in.wait(5)
