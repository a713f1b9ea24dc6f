"""Slack ack latency: signed ``/gemini`` slash commands against the bot in HTTP mode, N at a time.

    uv run python bench/slack_ack.py [--requests 200] [--concurrency 50]

The bot runs as it does in production (``gemini-interactions-slack`` under uvicorn, on loopback, its own
process, SQLite in a temporary folder); Gemini is the emulator and Slack's Web API is the fake from the tests,
both in this process. Each command is a distinct question, so afterwards every one must have exactly one
parent message and exactly one answer in its thread. Prints one JSON object: ack latency p50/p99/max in ms
(target p99 < 100 ms on 2 cores) and the counts of lost and duplicate answers (target 0 and 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

import aiohttp

from server.emulator import EmulatorConfig, run_emulator_in_thread
from tests.fakes.slack_api import (
    SIGNING_SECRET,
    FakeSlack,
    signed_headers,
    slash_command_body,
)
from tests.support.processes import LISTENING
from tests.support.slack_process import slack_executable

ASKED = re.compile(r"^<@U\d+> asked: (q-\d+)")
ANSWERED = re.compile(r'You said: "(q-\d+) ')


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def _start_bot(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str, asyncio.Task[None]]:
    process = await asyncio.create_subprocess_exec(
        slack_executable(),
        "--port",
        "0",
        "--log-level",
        "WARNING",
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def drain() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            match = LISTENING.search(line)
            if match and not ready.done():
                ready.set_result(match.group(1))
            elif "ERROR" in line or "Traceback" in line:
                print(line, file=sys.stderr)
        if not ready.done():
            ready.set_exception(RuntimeError("the bot exited before listening"))

    reader = asyncio.create_task(drain())
    return process, await asyncio.wait_for(ready, 60), reader


async def run(requests: int, concurrency: int, answer_timeout: float) -> dict[str, Any]:
    emulator = run_emulator_in_thread(EmulatorConfig(), host="127.0.0.1", port=0)
    data_dir = tempfile.mkdtemp(prefix="slack-ack-bench-")
    try:
        async with FakeSlack() as slack:
            env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
            env |= {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.api_url,
                "GOOGLE_GEMINI_BASE_URL": emulator.url,
                "GEMINI_API_KEY": "bench-key",
                "GEMINI_INTERACTIONS_DATA_DIR": data_dir,
            }
            process, url, reader = await _start_bot(env)
            try:
                return await _measure(slack, url, requests, concurrency, answer_timeout)
            finally:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()
                await reader
    finally:
        emulator.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def _load(url: str, response_url: str, requests: int, concurrency: int) -> dict[str, Any]:
    """The load generator, in its own process so that the fakes' work does not skew its clock.

    aiohttp, not httpx: httpx's connection pool alone adds ~200 ms p50 / 1 s p99 at 50 concurrent requests
    (measured against a bare Starlette app), which would hide what the bot does.
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    gate = asyncio.Semaphore(concurrency)
    bodies = [
        slash_command_body(f"q-{i} how fast is the ack?", response_url=response_url) for i in range(requests)
    ]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url=url, connector=connector) as http:

        async def one(body: str) -> None:
            async with gate:
                headers = signed_headers(body, "application/x-www-form-urlencoded")
                started = time.perf_counter()
                async with http.post("/slack/events", data=body.encode(), headers=headers) as response:
                    await response.read()
                latencies.append((time.perf_counter() - started) * 1000)
            statuses[response.status] = statuses.get(response.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one(body) for body in bodies))
        elapsed = time.perf_counter() - started
    return {"latencies_ms": latencies, "statuses": statuses, "elapsed_s": elapsed}


async def _measure(
    slack: FakeSlack, url: str, requests: int, concurrency: int, answer_timeout: float
) -> dict[str, Any]:
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--worker",
        url,
        "--requests",
        str(requests),
        "--concurrency",
        str(concurrency),
        "--response-url",
        slack.response_url(),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await worker.communicate()
    load = json.loads(out)
    latencies: list[float] = load["latencies_ms"]

    expected = {f"q-{i}" for i in range(requests)}

    def answered() -> dict[str, int]:
        counts: dict[str, int] = {}
        for call in slack.calls_to(
            "chat.postMessage", where=lambda c: c.ok and bool(c.args.get("thread_ts"))
        ):
            match = ANSWERED.search(call.args.get("text", ""))
            if match:
                counts[match.group(1)] = counts.get(match.group(1), 0) + 1
        return counts

    with contextlib.suppress(AssertionError):  # a timeout shows up as lost answers below
        await slack.wait_until(lambda: len(answered().keys() & expected) >= requests, timeout=answer_timeout)
    await asyncio.sleep(1.0)  # let any duplicate that is on its way arrive
    answers = answered()
    parents: dict[str, int] = {}
    for call in slack.calls_to("chat.postMessage", where=lambda c: c.ok and not c.args.get("thread_ts")):
        match = ASKED.match(call.args.get("text", ""))
        if match:
            parents[match.group(1)] = parents.get(match.group(1), 0) + 1
    return {
        "requests": requests,
        "concurrency": concurrency,
        "cpus": os.cpu_count(),
        "http_status": {str(k): v for k, v in sorted(load["statuses"].items())},
        "ack_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p99": round(_percentile(latencies, 99), 2),
            "max": round(max(latencies), 2),
            "mean": round(statistics.fmean(latencies), 2),
        },
        "all_acked_in_s": round(load["elapsed_s"], 3),
        "answered": len(answers.keys() & expected),
        "lost": len(expected - answers.keys()),
        "duplicates": sum(n - 1 for n in answers.values() if n > 1)
        + sum(n - 1 for n in parents.values() if n > 1),
        "target": {"p99_ms_below": 100, "lost": 0, "duplicates": 0},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--answer-timeout", type=float, default=120.0, help="seconds to wait for every answer"
    )
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)  # internal: the load generator
    parser.add_argument("--response-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        load = asyncio.run(_load(args.worker, args.response_url, args.requests, args.concurrency))
        print(json.dumps(load))
        return
    result = asyncio.run(run(args.requests, args.concurrency, args.answer_timeout))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
