"""Research completion latency: from the moment the emulator finishes a job to the moment our store says so.

For 1, 100 and 1000 concurrent Deep Research jobs (emulated), prints one JSON line each: median / p99 / max
delay, upstream HTTP requests per job, the most upstream TCP connections open at once while the jobs run
(sampled from /proc after the last one started), and peak RSS of the process that watches them.
Targets (stream mode): median delay <= 0.5 s, <= 4 requests per job when nothing fails, 1000 jobs under 300 MB.

``--webhooks`` runs every size a second time with Gemini's webhooks on and prints it beside stream mode: the
emulator delivers signed completions to our real ``POST /gemini/webhooks`` (served on loopback, registered as
an operator would), no stream is held, the safety poll is the default 300 s. Targets: median delay <= 0.3 s,
<= 2 requests per job, <= 10 upstream connections open while the jobs run.

    uv run python bench/research_latency.py               # all three sizes, stream mode
    uv run python bench/research_latency.py --jobs 100    # one size
    uv run python bench/research_latency.py --webhooks    # both modes, side by side

Each size runs in a fresh child process (so peak RSS is that size's own) against an emulator subprocess on
127.0.0.1, with the default poll interval (10 s): the delay comes from streaming, not from polling fast.
The jobs are started 50 at a time and last long enough that all of them run at once (``all_running_at_once``
says whether they did; ``created_in_s`` is how long starting them all took).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from tests.support.env import free_port

if TYPE_CHECKING:
    from server.core import Core, Settings

ROOT = Path(__file__).resolve().parent.parent


JOB_SECONDS = {1: 3.0, 100: 15.0, 1000: 60.0}


def fetch_stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=30) as response:
        return json.load(response)


def wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_emulator/health", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the emulator did not start in time")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def upstream_connections(port: int) -> int:
    """TCP connections of this process to the emulator's port that are established now (read from /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    mine = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/self/fd/{fd}")
            mine += link.startswith("socket:[") and link[8:-1] in inodes
    return mine


async def sample_connections(port: int, peak: list[int]) -> None:
    while True:
        peak[0] = max(peak[0], upstream_connections(port))
        await asyncio.sleep(0.25)


async def run_jobs(url: str, jobs: int, research_seconds: float, mode: str) -> dict:
    from server.core import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), base_url=url, api_key="bench")
        if mode == "stream":
            return await measure(settings, url, jobs, research_seconds) | {"mode": mode}
        from starlette.applications import Starlette
        from starlette.routing import Route

        from server.core import WEBHOOK_PATH, WebhookAdmin, webhook_endpoint
        from tests.support.webhooks import serve_asgi

        cores: list[Core] = []
        endpoint = webhook_endpoint(lambda: cores[0].webhooks if cores else None)
        async with serve_asgi(Starlette(routes=[Route(WEBHOOK_PATH, endpoint, methods=["POST"])])) as base:
            async with WebhookAdmin(settings) as admin:
                secret = (await admin.register(base + WEBHOOK_PATH)).secret
            settings = settings.model_copy(update={"public_url": base, "webhook_secret": SecretStr(secret)})
            return await measure(settings, url, jobs, research_seconds, on_core=cores.append) | {"mode": mode}


async def measure(
    settings: Settings,
    url: str,
    jobs: int,
    research_seconds: float,
    on_core: Callable[[Core], None] = lambda _core: None,
) -> dict:
    from server.core import Core, Origin

    peak_connections = [0]
    started = time.monotonic()
    async with Core.running(settings) as core:
        await core.ready()
        on_core(core)
        semaphore = asyncio.Semaphore(50)  # creates in flight at once, as a busy front door would send them

        async def start(n: int) -> str:
            async with semaphore:
                job = await core.research.start(
                    f"Topic {n} [emulator:research_seconds={research_seconds}]",
                    origin=Origin(source="mcp"),
                )
                return job.interaction_id

        creating = time.time()
        ids = await asyncio.gather(*(start(n) for n in range(jobs)))
        created = time.time()
        sampler = asyncio.ensure_future(sample_connections(int(url.rsplit(":", 1)[1]), peak_connections))
        deadline = time.monotonic() + research_seconds + 120
        while time.monotonic() < deadline:
            listed = await core.store.list_jobs(limit=jobs + 10)
            if sum(1 for j in listed if j.terminal) >= jobs:
                break
            await asyncio.sleep(1.0)  # listing a thousand rows is work: do not let the probe skew the figures
        finished = {j.interaction_id: j for j in await core.store.list_jobs(limit=jobs + 10)}
        sampler.cancel()
    wall = time.monotonic() - started

    stats = fetch_stats(url)
    delays: list[float] = []
    requests: list[int] = []
    completed = 0
    for job_id in ids:
        job = finished.get(job_id)
        record = stats["completions"].get(job_id)
        requests.append(sum(stats["by_interaction"].get(job_id, {}).values()))
        if job is None or record is None or job.finished_at is None:
            continue
        completed += job.status == "completed"
        delays.append(job.finished_at.timestamp() - record["wall_time"])
    ends = [r["wall_time"] for r in stats["completions"].values()]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "jobs": jobs,
        "completed": completed,
        "median_delay_s": round(statistics.median(delays), 4) if delays else None,
        "p99_delay_s": round(percentile(delays, 99), 4) if delays else None,
        "max_delay_s": round(max(delays), 4) if delays else None,
        "requests_per_job_mean": round(statistics.mean(requests), 2),
        "requests_per_job_max": max(requests),
        "peak_upstream_connections": peak_connections[0],
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "wall_seconds": round(wall, 1),
        "created_in_s": round(created - creating, 1),
        # Whether all the jobs ran at once: the first one ended only after the last one had been started.
        "all_running_at_once": bool(ends) and min(ends) >= created,
    }


def child(args: argparse.Namespace) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(run_jobs(args.url, args.jobs, args.research_seconds, args.mode))
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, action="append", help="job counts (default: 1, 100, 1000)")
    parser.add_argument("--research-seconds", type=float, default=None, help="emulated job length")
    parser.add_argument(
        "--webhooks",
        action="store_true",
        help="also run each size with Gemini's webhooks on, beside stream mode",
    )
    parser.add_argument("--mode", choices=("stream", "webhooks"), default="stream", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.jobs = args.jobs[0]
        child(args)
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    emulator = subprocess.Popen(
        [sys.executable, "-m", "server.emulator", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_healthy(url, time.monotonic() + 30)
        for jobs in args.jobs or [1, 100, 1000]:
            for mode in ("stream", "webhooks") if args.webhooks else ("stream",):
                urllib.request.urlopen(
                    urllib.request.Request(f"{url}/_emulator/reset", method="POST"), timeout=10
                )
                # Long enough that every job is running before the first one ends (the output says whether
                # they were): starting a thousand runs takes this machine about 40 s, a real run takes minutes.
                seconds = args.research_seconds or JOB_SECONDS.get(jobs, 60.0)
                command = [sys.executable, __file__, "--child", "--url", url, "--jobs", str(jobs)]
                command += ["--research-seconds", str(seconds), "--mode", mode]
                subprocess.run(
                    command, check=True, timeout=seconds + 600, env=os.environ | {"PYTHONPATH": str(ROOT)}
                )
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    main()
