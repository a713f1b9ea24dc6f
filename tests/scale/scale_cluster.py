"""Replicas of the Slack bot as subprocesses on one PostgreSQL database, and what the scale tests and
``bench/replicas.py`` measure about them.

The subprocess and signed-request helpers are the support kit's (``tests/support/slack_process.py``,
``tests/support/slack.py``).

    async with Cluster(slack, emulator, pg_url, tmp_path, lease_seconds=1) as cluster:
        a, b, c = await cluster.start(3)
        await cluster.research(a, "topic [emulator:research_seconds=3]")
        await cluster.kill(b)            # kill -9
        ...
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from server.core.store import Store
from server.core.store.schema import deliveries, jobs
from server.emulator import EmulatorHandle, UpstreamRequest
from tests.fakes.slack_api import FakeSlack
from tests.support.slack import SignedSlack, is_report_summary
from tests.support.slack_process import BotProcess, bot_process
from tests.support.slack_process import bot_env as slack_bot_env

STOP_TIMEOUT = 20.0


@dataclass
class Replica:
    """One ``gemini-interactions-slack`` process (HTTP mode on its own loopback port)."""

    name: str
    bot: BotProcess
    signed: SignedSlack
    stack: AsyncExitStack = field(repr=False)

    @property
    def pid(self) -> int:
        return self.bot.process.pid

    @property
    def running(self) -> bool:
        return self.bot.process.returncode is None

    def owns(self, replica_id: str | None) -> bool:
        """Whether a replica id (lease owner, upstream header) is this process's: ids are host-pid-random."""
        return bool(replica_id) and f"-{self.pid}-" in str(replica_id)

    def log(self) -> str:
        return self.bot.log()


@dataclass(frozen=True)
class Lease:
    job_id: str
    owner: str | None
    expires_at: datetime | None
    status: str


class Cluster:
    """Replicas sharing one database, the emulator as Gemini and the fake as Slack; stops all it started."""

    def __init__(
        self,
        slack: FakeSlack,
        emulator: EmulatorHandle,
        database_url: str,
        root: Path,
        *,
        lease_seconds: float = 1.0,
        log_level: str = "INFO",
        **env: str,
    ) -> None:
        self.slack = slack
        self.emulator = emulator
        self.database_url = database_url
        self.root = root
        self.lease_seconds = lease_seconds
        self.log_level = log_level
        self.extra_env = env
        self.replicas: list[Replica] = []
        self.store: Store | None = None

    async def __aenter__(self) -> Cluster:
        self.store = await Store.open(self.database_url)  # applies the migrations once, before the replicas
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.gather(*(self._close(r) for r in self.replicas), return_exceptions=True)
        finally:
            if self.store is not None:
                await self.store.close()

    # -- replicas -----------------------------------------------------------------------------------------

    def env(self, name: str) -> dict[str, str]:
        return slack_bot_env(self.slack, self.emulator, self.root / name) | {
            "GEMINI_INTERACTIONS_DATABASE_URL": self.database_url,
            "GEMINI_INTERACTIONS_LEASE_SECONDS": str(self.lease_seconds),
            **self.extra_env,
        }

    async def start(self, count: int) -> list[Replica]:
        """Start ``count`` more replicas at once; each has its own data dir and port."""
        names = [f"r{len(self.replicas) + n}" for n in range(count)]
        results = await asyncio.gather(*(self._start(name) for name in names), return_exceptions=True)
        started = [r for r in results if isinstance(r, Replica)]
        self.replicas.extend(started)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise failed[0]
        return started

    async def _start(self, name: str) -> Replica:
        stack = AsyncExitStack()
        try:
            bot = await stack.enter_async_context(bot_process(self.env(name), "--log-level", self.log_level))
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=bot.url, timeout=30))
        except BaseException:
            await stack.aclose()
            raise
        return Replica(name, bot, SignedSlack(http, self.slack), stack)

    async def _close(self, replica: Replica) -> None:
        await replica.stack.aclose()  # bot_process kills what is still running and waits for it

    async def kill(self, replica: Replica) -> float:
        """``kill -9``; returns the wall time it was sent, once the process is gone."""
        sent = time.time()
        replica.bot.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(replica.bot.process.wait(), STOP_TIMEOUT)
        return sent

    async def terminate(self, replica: Replica) -> int:
        """SIGTERM (a graceful stop, as an orchestrator does); returns the exit code."""
        replica.bot.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(replica.bot.process.wait(), STOP_TIMEOUT)

    def owner_of(self, replica_id: str | None) -> Replica | None:
        return next((r for r in self.replicas if r.owns(replica_id)), None)

    # -- Slack traffic ----------------------------------------------------------------------------------------

    async def research(
        self, replica: Replica, topic: str, *, user_id: str = "U1", channel_id: str = "C1"
    ) -> None:
        response = await replica.signed.command(f"research {topic}", user_id=user_id, channel_id=channel_id)
        assert response.status_code == 200, (response.status_code, response.text)

    async def research_many(self, topics: Iterable[str], *, concurrency: int = 10) -> None:
        """One ``/gemini research`` per topic, spread round-robin over the running replicas."""
        live = [r for r in self.replicas if r.running]
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int, topic: str) -> None:
            async with gate:
                await self.research(live[n % len(live)], topic, user_id=f"U{n % 7 + 1}")

        await asyncio.gather(*(one(n, topic) for n, topic in enumerate(topics)))

    # -- the database -------------------------------------------------------------------------------------

    def _store(self) -> Store:
        assert self.store is not None, "use the cluster as an async context manager"
        return self.store

    async def leases(self) -> dict[str, Lease]:
        query = select(jobs.c.interaction_id, jobs.c.lease_owner, jobs.c.lease_expires_at, jobs.c.status)
        async with self._store().engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row[0]: Lease(row[0], row[1], row[2], row[3]) for row in rows}

    async def wait_for_leases(
        self, check: Callable[[dict[str, Lease]], bool], *, timeout: float, what: str = ""
    ) -> dict[str, Lease]:
        """Wait (bounded) until ``check(leases)`` holds; return those leases."""
        deadline = time.monotonic() + timeout
        while True:
            leases = await self.leases()
            if check(leases):
                return leases
            if time.monotonic() > deadline:
                raise AssertionError(f"after {timeout}s, not yet {what or check}: {leases}")
            await asyncio.sleep(0.1)

    async def deliveries(self) -> dict[str, tuple[str, int, str | None, dict[str, object]]]:
        """job id -> (state, attempts, last error, progress) of its delivery."""
        query = select(
            deliveries.c.job_id,
            deliveries.c.state,
            deliveries.c.attempts,
            deliveries.c.last_error,
            deliveries.c.progress,
        )
        async with self._store().engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row[0]: (row[1], row[2], row[3], dict(row[4] or {})) for row in rows}

    async def wait_for_reports(self, count: int, *, timeout: float) -> None:
        """Wait (bounded) until ``count`` threads have their report; on timeout, say where each undelivered one is."""
        try:
            await self.slack.wait_until(
                lambda: len(report_posts(self.slack)) >= count and len(report_files(self.slack)) >= count,
                timeout=timeout,
                what=f"a report in each of {count} threads",
            )
        except AssertionError as exc:
            waiting = {k: v for k, v in (await self.deliveries()).items() if v[0] != "done"}
            posts, files = report_posts(self.slack), report_files(self.slack)
            missing = {
                ts: (
                    posts[ts],
                    files[ts],
                    [
                        (c.method, c.status, str(c.response)[:80])
                        for c in self.slack.calls
                        if c.args.get("thread_ts") == ts or c.args.get("ts") == ts
                    ],
                )
                for ts in research_threads(self.slack)
                if not (posts[ts] and files[ts])
            }
            async with self._store().engine.connect() as conn:
                rows = (await conn.execute(select(deliveries))).all()
            related = [
                dict(r._mapping) for r in rows if any(ts in r._mapping["destination"] for ts in missing)
            ]
            detail: dict[str, Any] = {
                "deliveries": waiting,
                "threads without a report": missing,
                "their deliveries": related,
                "counts": (len(research_threads(self.slack)), len(posts), len(files), len(rows)),
                "reported jobs": [j for j, n in reported_jobs(self.slack).items() if n != 1],
            }
            lines = [
                line
                for replica in self.replicas
                for line in replica.bot.lines
                if "deliver" in line or "Traceback" in line or "ERROR" in line
            ]
            raise AssertionError(
                f"{exc}; not done: {detail}; replica logs:\n" + "\n".join(lines[-80:])
            ) from None

    async def wait_for_jobs(self, count: int, *, timeout: float, terminal: bool = False) -> dict[str, Lease]:
        """Wait (bounded) until ``count`` jobs are stored (``terminal``: and have all ended)."""
        deadline = time.monotonic() + timeout
        while True:
            leases = await self.leases()
            done = [lease for lease in leases.values() if lease.status != "in_progress"]
            if len(leases) >= count and (not terminal or len(done) >= count):
                return leases
            if time.monotonic() > deadline:
                statuses = Counter(lease.status for lease in leases.values())
                raise AssertionError(
                    f"after {timeout}s: {len(leases)} of {count} jobs, statuses {dict(statuses)}"
                )
            await asyncio.sleep(0.1)


# -- what the fakes saw --------------------------------------------------------------------------------------


def report_posts(slack: FakeSlack) -> Counter[str]:
    """Report summaries posted per thread ts."""
    return Counter(
        str(c.args.get("thread_ts")) for c in slack.calls_to("chat.postMessage", where=is_report_summary)
    )


def report_files(slack: FakeSlack) -> Counter[str]:
    """Report files uploaded per thread ts."""
    return Counter(
        str(c.args.get("thread_ts")) for c in slack.calls_to("files.completeUploadExternal") if c.ok
    )


def reported_jobs(slack: FakeSlack) -> Counter[str]:
    """Report summaries posted per interaction id."""
    return Counter(
        str(c.args["metadata"]["event_payload"]["interaction_id"])
        for c in slack.calls_to("chat.postMessage", where=is_report_summary)
    )


def research_threads(slack: FakeSlack) -> list[str]:
    """The ts of every 'research started' message (each is the thread its report goes to)."""
    return [
        str(c.response["ts"])
        for c in slack.calls_to("chat.postMessage")
        if c.ok and not c.args.get("thread_ts") and "started research" in str(c.args.get("text"))
    ]


def streams(records: list[UpstreamRequest]) -> list[UpstreamRequest]:
    return [r for r in records if r.streamed]


@dataclass(frozen=True)
class Takeover:
    """A job a dead replica held, and when another replica first asked Gemini about it."""

    job_id: str
    lease_expired_at: float  # wall time
    first_request_at: float | None  # wall time of the new watcher's first request (None: never)
    by: str | None

    @property
    def delay_after_expiry(self) -> float | None:
        return None if self.first_request_at is None else self.first_request_at - self.lease_expired_at


def takeovers(
    emulator: EmulatorHandle, held: Iterable[Lease], dead: Replica, killed_at: float
) -> list[Takeover]:
    """For each job ``dead`` held when it was killed (at wall time ``killed_at``): who asked Gemini about it
    first afterwards, and how long after the dead replica's lease had expired."""
    found = []
    for lease in held:
        assert lease.expires_at is not None
        records = emulator.emulator.stats.upstream_requests(lease.job_id)
        after = [r for r in records if not dead.owns(r.replica) and r.wall_time >= killed_at]
        first = min(after, key=lambda r: r.wall_time, default=None)
        found.append(
            Takeover(
                lease.job_id,
                lease.expires_at.timestamp(),
                first.wall_time if first else None,
                first.replica if first else None,
            )
        )
    return found


def upstream_per_job(emulator: EmulatorHandle, job_ids: Iterable[str]) -> dict[str, int]:
    stats = emulator.emulator.stats
    return {job_id: len(stats.upstream_requests(job_id)) for job_id in job_ids}


def describe(records: list[UpstreamRequest]) -> str:
    return "; ".join(
        f"{r.kind} by {r.replica} {r.started_monotonic:.2f}-{r.ended_monotonic or 0:.2f}" for r in records
    )


__all__ = [
    "Cluster",
    "Lease",
    "Replica",
    "Takeover",
    "describe",
    "report_files",
    "report_posts",
    "reported_jobs",
    "research_threads",
    "streams",
    "takeovers",
    "upstream_per_job",
]
