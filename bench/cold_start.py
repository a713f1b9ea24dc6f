"""Cold start: time from spawning our stdio MCP server to its first ``tools/list`` answer, against a minimal
one-tool MCPServer run by the same interpreter. Prints one JSON object; the target ratio is <= 1.3.

    uv run python bench/cold_start.py [--runs 7] [--mode legacy|auto]

Our server runs with a dummy key and a base URL nobody listens on, so nothing touches the network; its data
directory is a fresh temporary folder for every run (the cold case: the SQLite file is created too).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

MINIMAL_SERVER = """\
from mcp.server import MCPServer

mcp = MCPServer("minimal")


@mcp.tool()
def echo(text: str) -> str:
    \"\"\"Echo the text back.\"\"\"
    return text


mcp.run()
"""

REPO = Path(__file__).resolve().parent.parent


def _base_env() -> dict[str, str]:
    keep = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "SYSTEMROOT")
    return {k: os.environ[k] for k in keep if k in os.environ}


async def _time_once(params: StdioServerParameters, mode: str, quiet: TextIO) -> float:
    started = time.perf_counter()
    async with Client(stdio_client(params, errlog=quiet), mode=mode) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - started
    if not tools.tools:
        raise RuntimeError("the server listed no tools")
    return elapsed * 1000


def _ours(data_dir: str) -> StdioServerParameters:
    env = _base_env() | {
        "GEMINI_API_KEY": "bench-dummy-key",
        "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9",  # discard port: never contacted at start-up
        "GEMINI_INTERACTIONS_DATA_DIR": data_dir,
        "PYTHONPATH": str(REPO),
    }
    return StdioServerParameters(command=sys.executable, args=["-m", "server"], env=env, cwd=str(REPO))


def _minimal(script: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(script)], env=_base_env(), cwd=str(REPO))


async def _bench(runs: int, mode: str, quiet: TextIO) -> dict[str, Any]:
    ours: list[float] = []
    minimal: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        script = Path(tmp) / "minimal_server.py"
        script.write_text(MINIMAL_SERVER)
        # One unmeasured run of each warms the OS file cache and the bytecode caches.
        await _time_once(_ours(tempfile.mkdtemp(dir=tmp)), mode, quiet)
        await _time_once(_minimal(script), mode, quiet)
        for _ in range(runs):  # interleaved, so drift in machine load hits both alike
            with anyio.fail_after(60):
                ours.append(await _time_once(_ours(tempfile.mkdtemp(dir=tmp)), mode, quiet))
                minimal.append(await _time_once(_minimal(script), mode, quiet))
    ours_median, minimal_median = statistics.median(ours), statistics.median(minimal)
    return {
        "benchmark": "cold_start_tools_list",
        "mode": mode,
        "runs": runs,
        "ours_ms": {"median": round(ours_median, 1), "all": [round(x, 1) for x in ours]},
        "minimal_ms": {"median": round(minimal_median, 1), "all": [round(x, 1) for x in minimal]},
        "ratio": round(ours_median / minimal_median, 3),
        "target_ratio": 1.3,
        "python": sys.version.split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="measured runs of each server (>= 5; default 7)")
    parser.add_argument("--mode", choices=("legacy", "auto"), default="legacy", help="client protocol mode")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    with open(os.devnull, "w") as quiet:  # the servers' stderr logs are not part of the figures
        print(json.dumps(anyio.run(_bench, args.runs, args.mode, quiet)))


if __name__ == "__main__":
    main()
