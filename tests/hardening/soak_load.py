"""The soak test's workload: a mix of MCP and Slack operations driven concurrently against both servers, upstream
and Slack faults fed so that about one call in ten fails, and a tally of what every operation saw."""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.from_thread import BlockingPortal
from mcp import Client

from server.emulator import EmulatorHandle, Faults
from server.mcp.errors import GENERIC_FAILURE
from tests.fakes.slack_api import FakeSlack, signed_headers, slash_command_body
from tests.support.mcp import http_client, text_of
from tests.support.processes import ServerProcess, open_fds, rss_bytes, threads

TOKEN = "soak-token-0123456789"
SIGNING_SECRET = "soak-signing-secret"
WARM_UP_OPS = 60
MAIN_OPS = 340
CONCURRENCY = 6
FAILURE_SHARE = 0.10
QUIET_TIMEOUT = 90.0

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
    (m, s)
    for m in (
        "chat.postMessage",
        "chat.update",
        "files.getUploadURLExternal",
        "chat.startStream",
        "chat.appendStream",
    )
    for s in (429, 500, 503)
]


def jobs_in(db: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return dict(conn.execute("SELECT interaction_id, status FROM jobs").fetchall())


def deliveries_in(db: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return dict(conn.execute("SELECT job_id, state FROM deliveries").fetchall())


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
            running = [i for i, s in jobs_in(self.bot_db).items() if s == "in_progress"]
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
                for i, s in jobs_in(db).items()
                if s == "in_progress"
            ]
            undelivered = [j for j, s in deliveries_in(self.bot_db).items() if s != "done"]
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


async def drive(soak: Soak) -> dict[str, dict[str, tuple[int, int, int]]]:
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
