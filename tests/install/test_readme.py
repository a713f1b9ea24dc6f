"""The README's Quick start and Install code blocks, run as written, so the README cannot drift from the code.

Each block runs in a clean copy of the project, as a user with an empty home: a shell command must exit 0; a
command that starts the MCP server on stdio (``uv run gemini-interactions-mcp …``, ``uvx gemini-interactions``,
``claude mcp add … -- <command>``) and every server in a JSON host configuration (``mcpServers``, VS Code's
``servers``) is started as its host would start it, and must list its tools (and answer, with ``--emulator``).

What stands in for the world: the package is not on PyPI yet, so ``uvx``/``uv tool install`` find this build's
wheel through ``UV_FIND_LINKS``; ``npx`` runs the npm packages CI installs under ``.cache`` instead of
downloading them. A block or a command that cannot run here says so in the README, in an HTML comment on the
line before the block: ``<!-- readme-check: skip (why) -->`` or ``<!-- readme-check: skip `command` (why) -->``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from .conftest import Dists
from .kit import (
    INSPECTOR,
    INSPECTOR_NODE_BIN,
    MCPB,
    REPO,
    TEST_KEY,
    clean_copy,
    isolated_env,
    manifest,
    missing,
    run,
    start_and_list,
)

pytestmark = [pytest.mark.packaging, pytest.mark.anyio]

SECTIONS = ("Quick start", "Install")
SKIP = re.compile(r"<!-- readme-check: skip(?: `(?P<command>[^`]+)`)? \((?P<why>[^)]+)\) -->")
FENCE = re.compile(r"^```(\w*)\s*$")
MCP_COMMANDS = {"gemini-interactions-mcp", "gemini-interactions"}
# npm packages `npx` would download, and where CI has them (tests/mcp/install_inspector.sh, install_mcpb.sh).
NPX = {"@modelcontextprotocol/inspector": INSPECTOR, "@anthropic-ai/mcpb": MCPB}


@dataclass
class Block:
    section: str
    line: int
    language: str
    text: str
    skip_all: str | None = None
    skip_commands: dict[str, str] = field(default_factory=dict)

    def commands(self) -> list[str]:
        """Shell commands: continuation lines joined, blank and comment lines dropped."""
        joined = re.sub(r"\\\n\s*", " ", self.text)
        return [
            line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
        ]

    def skipped(self, command: str) -> bool:
        argv = shlex.split(command, comments=True)
        return any(argv == shlex.split(skip) for skip in self.skip_commands)


def readme_blocks() -> Iterator[Block]:
    section = ""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("## "):
            section = line[3:].strip()
        opening = FENCE.match(line)
        if opening:
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            if section in SECTIONS:
                block = Block(section, index + 1, opening.group(1), "\n".join(lines[index + 1 : end]))
                marker = SKIP.fullmatch(lines[index - 1].strip()) if index else None
                if marker and marker["command"]:
                    block.skip_commands[marker["command"]] = marker["why"]
                elif marker:
                    block.skip_all = marker["why"]
                yield block
            index = end
        index += 1


BLOCKS = list(readme_blocks())


def test_the_checked_sections_have_blocks() -> None:
    assert {block.section for block in BLOCKS} == set(SECTIONS)
    for block in BLOCKS:
        for command in block.skip_commands:
            assert any(shlex.split(c, comments=True) == shlex.split(command) for c in block.commands()), (
                f"README line {block.line}: no command {command!r} to skip"
            )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clean_copy(tmp_path_factory.mktemp("clone"))


@pytest.fixture
def user(tmp_path: Path, dists: Dists) -> dict[str, str]:
    """A user with an empty home; `uvx` and `uv tool install` find this build's wheel; `npx` is the cache."""
    shims = tmp_path / "shims"
    shims.mkdir()
    npx = shims / "npx"
    cases = "\n".join(f'  {name}) exec "{path}" "$@" ;;' for name, path in NPX.items())
    npx.write_text(
        "#!/usr/bin/env bash\n# npx for the README check: the packages CI installs, not downloads.\n"
        f'package="$1"; shift\ncase "$package" in\n{cases}\n'
        '  *) echo "npx: $package is not one the README check has installed" >&2; exit 127 ;;\nesac\n'
    )
    npx.chmod(0o755)
    env = isolated_env(tmp_path / "home", UV_FIND_LINKS=str(dists.folder))
    env["PATH"] = os.pathsep.join([str(shims), str(INSPECTOR_NODE_BIN), env["PATH"]])
    return env


def mcp_launch(argv: list[str]) -> tuple[str, list[str], dict[str, str]] | None:
    """(command, args, env) when ``argv`` starts the MCP server on stdio as a host would run it, else None."""
    env: dict[str, str] = {}
    if argv[:3] == ["claude", "mcp", "add"]:
        # `claude mcp add <name> [-e|--env K=V]… [-s|--scope S] -- <command> [args…]`, as Claude Code parses it.
        options, _, command = " ".join(map(shlex.quote, argv[3:])).partition(" -- ")
        words = shlex.split(options)
        for flag, value in itertools.pairwise(words):
            if flag in ("-e", "--env"):
                key, _, val = value.partition("=")
                env[key] = val
        argv = shlex.split(command)
    program = argv
    if program[:2] == ["uv", "run"]:
        program = program[2:]
    elif program[:1] == ["uvx"]:
        program = program[3:] if program[1:2] == ["--from"] else program[1:]
    if not program or program[0] not in MCP_COMMANDS:
        return None
    if {"--help", "--version", "http"} & set(program):
        return None
    return argv[0], argv[1:], env


async def start(command: str, args: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
    offered = await start_and_list(command, args, env=env, cwd=cwd, errlog=log, ask="--emulator" in args)
    if offered.tools != {tool["name"] for tool in manifest()["tools"]}:
        pytest.fail(
            f"{command} {args} offers {sorted(offered.tools)}\n{(await anyio.Path(log).read_text())[-3000:]}"
        )
    if "--emulator" in args:
        assert offered.answer


async def run_shell_block(block: Block, user: dict[str, str], project: Path, log: Path) -> None:
    for command in block.commands():
        if block.skipped(command):
            continue
        argv = shlex.split(command, comments=True)
        if argv[0] == "npx" and not NPX.get(argv[1], Path("/nonexistent")).exists():
            missing(
                f"README line {block.line} needs {argv[1]}: run tests/mcp/install_inspector.sh and tests/install/install_mcpb.sh"
            )
        launch = mcp_launch(argv)
        if launch:
            program, args, env = launch
            await start(program, args, user | env, project, log)
            continue
        result = run(["bash", "-euo", "pipefail", "-c", command], cwd=project, env=user, timeout=300)
        assert '"isError": true' not in result.stdout, result.stdout


async def run_json_block(block: Block, user: dict[str, str], project: Path, log: Path) -> None:
    config: dict[str, Any] = json.loads(block.text)
    servers = config.get("mcpServers") or config.get("servers")
    assert servers, f"README line {block.line}: a JSON block here is an MCP host configuration"
    inputs = {item["id"]: TEST_KEY for item in config.get("inputs", [])}  # VS Code prompts the user for these
    for server in servers.values():
        assert server.get("type", "stdio") == "stdio"
        env = {
            key: re.sub(r"\$\{input:([^}]+)\}", lambda m: inputs[m[1]], value)
            for key, value in server.get("env", {}).items()
        }
        await start(server["command"], server.get("args", []), user | env, project, log)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b.section.replace(' ', '-')}-line{b.line}")
async def test_readme_block_runs(block: Block, user: dict[str, str], project: Path, tmp_path: Path) -> None:
    if block.skip_all:
        pytest.skip(f"the README says: {block.skip_all}")
    log = tmp_path / "servers.log"
    if block.language in ("bash", "sh", "console", ""):
        await run_shell_block(block, user, project, log)
    elif block.language == "json":
        await run_json_block(block, user, project, log)
    else:
        pytest.fail(f"README line {block.line}: no way to run a {block.language!r} block; mark it to skip")
