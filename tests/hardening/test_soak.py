"""Soak: a few hundred mixed operations against both real servers while about one upstream call in ten fails.

``gemini-interactions-mcp`` (streamable HTTP, both protocol eras) and ``gemini-interactions-slack`` (HTTP mode)
run as subprocesses on loopback, against the emulator (429, 500, 503, hangs, malformed JSON, reset connections,
cut and hung streams, stuck jobs, fed so that ~10% of upstream requests fail) and the fake Slack (429 and 5xx on
its Web API). The mix: ask, continue_thread, generate_image, start/status/cancel/list research over MCP, and
``/gemini`` questions, images, research, status and cancel through the bot.

Afterwards: every research run either server started is terminal; each Slack run's report was posted exactly
once and each MCP run finished exactly once (its one "finished" log line); every request got an answer or an
error that says what happened (never the generic "unexpected problem" or the bot's "something went wrong");
both servers still answer; their RSS and open file descriptors, measured at a quiet moment after a warm-up and
again at the end, did not grow beyond a generous bound.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hardening_kit import (
    TEST_KEY,
    ServerProcess,
    host_env,
    http_client,
    json_lines,
    mcp_http_process,
    open_fds,
    rss_bytes,
    slack_http_process,
    text_of,
    threads,
)
from mcp import Client

from server.emulator import EmulatorConfig, EmulatorHandle, Faults, run_emulator_in_thread
from server.mcp_errors import GENERIC_FAILURE
from slack_bot.render import REPORT_EVENT_TYPE, SORRY
from tests.fakes.slack_api import FakeSlack, signed_headers, slash_command_body

pytestmark = pytest.mark.soak

TOKEN = "soak-token-0123456789"
SIGNING_SECRET = "soak-signing-secret"
WARM_UP_OPS = 60
MAIN_OPS = 340
CONCURRENCY = 6
FAILURE_SHARE = 0.10
RESEARCH_DEADLINE_SECONDS = 12
QUIET_TIMEOUT = 90.0
RSS_GROWTH_LIMIT = 80 * 1024 * 1024  # generous: allocator slack, caches; a leak per operation grows far more
FD_GROWTH_LIMIT = 40
THREAD_GROWTH_LIMIT = 20
SEED = random.randrange(2**32)

UPSTREAM_FAULTS: list[Callable[[Faults, random.Random], Any]] = [
    lambda f, r: f.rate_limit(1, kind=r.choice(["create", "get"]), retry_after=0.05),
    lambda f, r: f.server_error(r.choice([500, 503]), 1, kind=r.choice(["create", "get", "cancel"])),
    lambda f, r: f.hang(1, kind=r.choice(["create", "get"])),
    lambda f, r: f.malformed_json(1, kind=r.choice(["create", "get"])),
    lambda f, r: f.reset_connection(1, kind=r.choice(["create", "get", "stream"])),
    lambda f, r: f.cut_stream(after_events=2, count=1),
    lambda f, r: f.hang_stream(after_events=1, count=1, kind="stream"),
    lambda f, r: f.stick_jobs(1),
]
SLACK_RETRY_WINDOW = 5.0  # slack_sdk retries a 429/5xx twice, within about 1.5 s
SLACK_FAULTS = [
    (m, s) for m in ("chat.postMessage", "chat.update", "files.getUploadURLExternal") for s in (429, 500, 503)
]


@dataclass
class Tally:
    """What the operations saw; checked at the end."""

    ops: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    unclear: list[str] = field(default_factory=list)
    mcp_research: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    slack_channels: dict[str, str] = field(default_factory=dict)  # channel → what was asked there
    slow_acks: list[float] = field(default_factory=list)


@pytest.fixture(scope="module")
def soak_emulator() -> Iterator[EmulatorHandle]:
    config = EmulatorConfig(
        research_seconds=1.0, research_steps=2, report_chars=2500, retry_after_seconds=0.05, hang_seconds=30.0
    )
    with run_emulator_in_thread(config, host="127.0.0.1", port=0) as handle:
        yield handle


def _common_env(emulator: EmulatorHandle, data_dir: Path) -> dict[str, str]:
    return host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(data_dir),
        GEMINI_INTERACTIONS_POLL_SECONDS="0.1",
        GEMINI_INTERACTIONS_REQUEST_TIMEOUT_SECONDS="3",
        GEMINI_INTERACTIONS_STREAM_READ_TIMEOUT_SECONDS="1",
        GEMINI_INTERACTIONS_RESEARCH_DEADLINE_SECONDS=str(RESEARCH_DEADLINE_SECONDS),
        GEMINI_INTERACTIONS_LEASE_SECONDS="5",
        GEMINI_INTERACTIONS_LOG_FORMAT="json",
    )


def _jobs(db: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return dict(conn.execute("SELECT interaction_id, status FROM jobs").fetchall())


def _deliveries(db: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return dict(conn.execute("SELECT job_id, state FROM deliveries").fetchall())


def _clear(message: str) -> bool:
    """An error a person can act on: ours, never the catch-all, never internals."""
    return bool(message.strip()) and "unexpected problem" not in message and "Traceback" not in message


class Soak:
    def __init__(
        self,
        emulator: EmulatorHandle,
        slack: tuple[BlockingPortal, FakeSlack],
        mcp: tuple[ServerProcess, Path],
        bot: tuple[ServerProcess, Path],
        seed: int,
    ) -> None:
        self.emulator = emulator
        self.portal, self.slack = slack
        self.mcp, self.mcp_db = mcp
        self.bot, self.bot_db = bot
        self.random = random.Random(seed)
        self.tally = Tally()
        self.channels = iter(range(1, 10**6))
        self.slack_faults_armed = 0
        self.slack_cooldown: dict[str, float] = {}
        self.fired_before_clear = 0  # Faults.clear() resets its counter

    def clear_faults(self) -> None:
        self.fired_before_clear += sum(self.emulator.faults.fired.values())
        self.emulator.faults.clear()

    # -- faults ---------------------------------------------------------------------------------------------------

    async def feed_faults(self) -> None:
        """Keep roughly FAILURE_SHARE of upstream requests (and of Slack calls) failing, one fault at a time."""
        faults, stats = self.emulator.faults, self.emulator.stats
        while True:
            fired = self.fired_before_clear + sum(faults.fired.values())
            armed = faults.snapshot()
            pending = len(armed["rules"]) + (armed["stuck_jobs"] or 0)
            if pending < 3 and fired + pending < FAILURE_SHARE * stats.requests_total:
                self.random.choice(UPSTREAM_FAULTS)(faults, self.random)
            calls = list(self.slack.calls)
            slack_failed = sum(1 for c in calls if c.status != 200)
            now = time.monotonic()
            # One at a time, and never the same method again while the client may still be retrying the call
            # that met the last one: a single call failing three times in a row is an outage, not a blip.
            choices = [(m, s) for m, s in SLACK_FAULTS if self.slack_cooldown.get(m, 0.0) < now]
            if (
                choices
                and slack_failed < FAILURE_SHARE * len(calls)
                and slack_failed >= self.slack_faults_armed
            ):
                method, status = self.random.choice(choices)
                self.slack_faults_armed += 1
                self.slack_cooldown[method] = now + SLACK_RETRY_WINDOW
                self.portal.start_task_soon(self._fail_slack, method, status)  # armed in the fake's own loop
            await anyio.sleep(0.02)

    async def _fail_slack(self, method: str, status: int) -> None:
        self.slack.fail(method, status=status, times=1)

    # -- operations ----------------------------------------------------------------------------------------------

    async def mcp_call(self, client: Client, tool: str, arguments: dict[str, Any]) -> Any:
        self.tally.ops[f"mcp {tool}"] += 1
        result = await client.call_tool(tool, arguments)
        if result.is_error:
            message = text_of(result)
            self.tally.errors[f"mcp {tool}"] += 1
            if not _clear(message) or GENERIC_FAILURE.format(tool=tool) in message:
                self.tally.unclear.append(f"{tool}: {message}")
        return result

    async def slack_command(self, http: httpx.AsyncClient, text: str) -> None:
        channel = f"CSOAK{next(self.channels)}"
        self.tally.slack_channels[channel] = text
        self.tally.ops[f"slack {text.split()[0]}"] += 1
        body = slash_command_body(text, channel_id=channel, response_url=self.slack.response_url())
        headers = signed_headers(body, "application/x-www-form-urlencoded", secret=SIGNING_SECRET)
        started = time.monotonic()
        response = await http.post("/slack/events", content=body, headers=headers)
        acked = time.monotonic() - started
        assert response.status_code == 200, response.text
        if acked > 3.0:  # Slack's own limit for an ack
            self.tally.slow_acks.append(acked)

    def _some(self, ids: list[str]) -> str:
        return self.random.choice(ids) if ids else "v1_none"

    async def one(self, clients: list[Client], http: httpx.AsyncClient, n: int) -> None:
        client = clients[n % len(clients)]
        r = self.random.random()
        topic = f"topic {n}"
        if r < 0.22:
            result = await self.mcp_call(client, "ask", {"prompt": f"question {n}"})
            if not result.is_error:
                self.tally.answers.append(result.structured_content["interaction_id"])
        elif r < 0.27:
            await self.mcp_call(
                client,
                "continue_thread",
                {"interaction_id": self._some(self.tally.answers), "prompt": "more"},
            )
        elif r < 0.33:
            await self.mcp_call(client, "generate_image", {"prompt": f"a lighthouse {n}"})
        elif r < 0.43:
            result = await self.mcp_call(client, "start_research", {"prompt": topic})
            if not result.is_error:
                self.tally.mcp_research.append(result.structured_content["interaction_id"])
        elif r < 0.51:
            await self.mcp_call(
                client, "research_status", {"interaction_id": self._some(self.tally.mcp_research)}
            )
        elif r < 0.55:
            await self.mcp_call(
                client, "cancel_research", {"interaction_id": self._some(self.tally.mcp_research)}
            )
        elif r < 0.58:
            await self.mcp_call(client, "list_research", {"limit": 5})
        elif r < 0.73:
            await self.slack_command(http, f"question {n}")
        elif r < 0.78:
            await self.slack_command(http, f"image a harbour {n}")
        elif r < 0.88:
            await self.slack_command(http, f"research {topic}")
        elif r < 0.93:
            await self.slack_command(http, "status")
        else:
            running = [i for i, s in _jobs(self.bot_db).items() if s == "in_progress"]
            await self.slack_command(http, f"cancel {self._some(running)}")

    async def run_ops(self, clients: list[Client], http: httpx.AsyncClient, start: int, count: int) -> None:
        limiter = anyio.Semaphore(CONCURRENCY)

        async def op(n: int) -> None:
            async with limiter:
                with anyio.fail_after(60):
                    await self.one(clients, http, n)

        async with anyio.create_task_group() as tg:
            for n in range(start, start + count):
                tg.start_soon(op, n)

    async def quiet(self) -> None:
        """Until every research run is terminal, every Slack delivery done, and Slack has been quiet a moment."""
        deadline = time.monotonic() + QUIET_TIMEOUT
        while True:
            unfinished = [
                (db.name, i)
                for db in (self.mcp_db, self.bot_db)
                for i, s in _jobs(db).items()
                if s == "in_progress"
            ]
            undelivered = [j for j, s in _deliveries(self.bot_db).items() if s != "done"]
            if not unfinished and not undelivered:
                seen = len(self.slack.calls)
                await anyio.sleep(1.0)
                if len(self.slack.calls) == seen:
                    return
            assert time.monotonic() < deadline, f"not quiet: runs {unfinished}, deliveries {undelivered}"
            await anyio.sleep(0.2)

    def measure(self) -> dict[str, tuple[int, int, int]]:
        """RSS bytes, open file descriptors and threads of each server process."""
        return {
            name: (rss_bytes(p.pid), open_fds(p.pid), threads(p.pid))
            for name, p in (("mcp", self.mcp), ("slack", self.bot))
        }


async def _drive(soak: Soak) -> dict[str, dict[str, tuple[int, int, int]]]:
    async with (
        http_client(soak.mcp.url, TOKEN, mode="auto") as modern,
        http_client(soak.mcp.url, TOKEN, mode="legacy") as legacy,
        httpx.AsyncClient(base_url=soak.bot.url, timeout=30) as http,
        anyio.create_task_group() as tg,
    ):
        clients = [modern, legacy]
        tg.start_soon(soak.feed_faults)
        await soak.run_ops(clients, http, 0, WARM_UP_OPS)
        soak.clear_faults()
        await soak.quiet()
        warm = soak.measure()
        await soak.run_ops(clients, http, WARM_UP_OPS, MAIN_OPS)
        tg.cancel_scope.cancel()
    soak.clear_faults()
    await soak.quiet()
    end = soak.measure()
    async with http_client(soak.mcp.url, TOKEN) as client:  # still serving
        after = await client.call_tool("ask", {"prompt": "still there after the soak?"})
        assert not after.is_error, text_of(after)
    return {"warm": warm, "end": end}


def test_soak_mixed_operations_with_failing_upstream(soak_emulator: EmulatorHandle, tmp_path: Path) -> None:
    started = time.monotonic()
    emulator = soak_emulator
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal("asyncio"))
        slack = stack.enter_context(portal.wrap_async_context_manager(FakeSlack()))
        mcp_env = _common_env(emulator, tmp_path / "mcp-data") | {"GEMINI_INTERACTIONS_MCP_TOKEN": TOKEN}
        bot_env = _common_env(emulator, tmp_path / "bot-data") | {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "GEMINI_INTERACTIONS_SLACK_SWEEP_SECONDS": "0.5",
            "GEMINI_INTERACTIONS_SLACK_PROGRESS_SECONDS": "0.5",
        }
        mcp = stack.enter_context(mcp_http_process(mcp_env, tmp_path / "mcp.log"))
        bot = stack.enter_context(slack_http_process(bot_env, tmp_path / "bot.log"))
        mcp_db = tmp_path / "mcp-data" / "gemini-interactions.sqlite3"
        bot_db = tmp_path / "bot-data" / "gemini-interactions.sqlite3"
        soak = Soak(emulator, (portal, slack), (mcp, mcp_db), (bot, bot_db), SEED)
        emulator.stats.reset()
        figures = anyio.run(_drive, soak)
        assert mcp.process.poll() is None and bot.process.poll() is None  # both still running
        stats = emulator.stats.snapshot()
        fired = soak.fired_before_clear
    elapsed = time.monotonic() - started
    tally = soak.tally
    report = {
        "seed": SEED,
        "seconds": round(elapsed, 1),
        "ops": dict(tally.ops),
        "errors": dict(tally.errors),
        "upstream_requests": stats["requests_total"],
        "faults_fired": fired,
        "memory_fds": figures,
    }
    print("soak:", json.dumps(report))

    # The mix ran, and about one upstream call in ten failed.
    assert sum(tally.ops.values()) == WARM_UP_OPS + MAIN_OPS
    assert 0.04 < fired / stats["requests_total"] < 0.25, report
    assert sum(tally.errors.values()) > 0, report  # the faults reached callers, who were told
    # Every error said what happened.
    assert not tally.unclear, tally.unclear[:5]
    assert not tally.slow_acks, tally.slow_acks

    # Every research run is terminal; Slack's were delivered exactly once, MCP's finished exactly once.
    mcp_jobs, bot_jobs = _jobs(mcp_db), _jobs(bot_db)
    assert set(tally.mcp_research) <= set(mcp_jobs)
    assert all(status != "in_progress" for status in [*mcp_jobs.values(), *bot_jobs.values()])
    assert all(state == "done" for state in _deliveries(bot_db).values())
    summaries = Counter(
        (call.args.get("metadata") or {}).get("event_payload", {}).get("interaction_id")
        for call in slack.calls
        if call.ok
        and call.method == "chat.postMessage"
        and (call.args.get("metadata") or {}).get("event_type") == REPORT_EVENT_TYPE
    )
    assert set(summaries) == set(bot_jobs) and set(summaries.values()) == {1}, (summaries, bot_jobs)
    records = json_lines(mcp.output())
    finished = Counter(
        r.get("interaction_id")
        for r in records
        if r["logger"] == "server.core.research" and " finished: " in r["message"]
    )
    assert set(finished) == set(mcp_jobs) and set(finished.values()) == {1}, (finished, mcp_jobs)
    assert not [r for r in records if "failed unexpectedly" in r["message"]]

    # Every Slack request got an answer or a clear reason, in its own channel; the bot never shrugged.
    posted: dict[str, list[str]] = {}
    for call in slack.calls:
        if call.ok and call.method in ("chat.postMessage", "chat.update", "files.completeUploadExternal"):
            channel = call.args.get("channel") or call.args.get("channel_id") or ""
            posted.setdefault(str(channel), []).append(json.dumps(call.args, default=str))
    everything = [text for texts in posted.values() for text in texts] + [
        json.dumps(r) for r in slack.responses
    ]
    assert not [t for t in everything if SORRY in t], [t for t in everything if SORRY in t][:3]
    for channel, asked in tally.slack_channels.items():
        if asked.split()[0] in ("status", "cancel"):
            continue  # answered through response_url
        assert len(posted.get(channel, [])) >= 2, (asked, posted.get(channel))

    # No unbounded growth of memory or file descriptors.
    for name in ("mcp", "slack"):
        (warm_rss, warm_fds, warm_threads), (end_rss, end_fds, end_threads) = (
            figures["warm"][name],
            figures["end"][name],
        )
        assert end_rss - warm_rss < RSS_GROWTH_LIMIT, (name, report)
        assert end_fds - warm_fds < FD_GROWTH_LIMIT, (name, report)
        assert end_threads - warm_threads < THREAD_GROWTH_LIMIT, (name, report)
