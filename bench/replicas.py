"""Three replicas on one PostgreSQL, hundreds of research jobs, one replica killed with ``kill -9`` mid-run.

    uv run python bench/replicas.py [--jobs 300] [--replicas 3] [--lease-seconds 5] [--research-seconds 20]

The replicas are ``gemini-interactions-slack`` processes in HTTP mode (each on its own loopback port and data
dir) sharing a throwaway PostgreSQL started from the distribution's binaries as the tests do (``tests/support/postgres.py``).
Gemini is the emulator and Slack's Web API the fake from the tests, both in this process. Signed
``/gemini research`` commands are spread over the replicas; once every job exists, one replica is killed.

Prints one JSON object: how long after a dead replica's lease expired its jobs were picked up (median, max),
upstream requests per job, jobs watched by two replicas at once (target 0), and lost and duplicate report
deliveries (targets 0 and 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.core.store.schema import deliveries, jobs
from server.emulator import EmulatorConfig, EmulatorHandle, run_emulator_in_thread
from tests.fakes.slack_api import FakeSlack
from tests.scale.scale_cluster import (
    Cluster,
    describe,
    report_files,
    report_posts,
    research_threads,
    takeovers,
    upstream_per_job,
)
from tests.support.postgres import PostgresServer, find_bin_dir


def _summary(values: list[float], digits: int = 2) -> dict[str, float]:
    if not values:
        return {}
    return {
        "median": round(statistics.median(values), digits),
        "mean": round(statistics.mean(values), digits),
        "max": round(max(values), digits),
    }


async def run(
    args: argparse.Namespace, database_url: str, emulator: EmulatorHandle, root: Path
) -> dict[str, Any]:
    async with (
        FakeSlack() as slack,
        Cluster(
            slack, emulator, database_url, root, lease_seconds=args.lease_seconds, log_level="WARNING"
        ) as cluster,
    ):
        started = time.monotonic()
        replicas = await cluster.start(args.replicas)
        victim = replicas[len(replicas) // 2]
        ready = time.monotonic()
        topics = [
            f"bench topic {n} [emulator:research_seconds={args.research_seconds}]" for n in range(args.jobs)
        ]
        await cluster.research_many(topics, concurrency=args.concurrency)
        await cluster.wait_for_jobs(args.jobs, timeout=args.timeout)
        created = time.monotonic()

        killed_at = await cluster.kill(victim)
        held = [
            v for v in (await cluster.leases()).values() if victim.owns(v.owner) and v.status == "in_progress"
        ]
        try:
            final = await cluster.wait_for_jobs(args.jobs, timeout=args.timeout, terminal=True)
        except AssertionError:
            await _diagnose(cluster, emulator)
            raise
        finished = time.monotonic()
        try:
            await slack.wait_until(
                lambda: len(report_posts(slack)) >= args.jobs and len(report_files(slack)) >= args.jobs,
                timeout=args.timeout,
                what="every report",
            )
        except AssertionError:
            pass  # counted as lost below
        await asyncio.sleep(args.settle_seconds)  # let any duplicate that is on its way arrive
        survivors_alive = all(r.running for r in replicas if r is not victim)
        posts, files = report_posts(slack), report_files(slack)
        for ts in research_threads(slack):
            if posts[ts] == 0 or files[ts] == 0:
                await _diagnose_delivery(cluster, ts, posts[ts], files[ts])
        if not survivors_alive:
            for replica in replicas:
                print(f"--- {replica.name} ---\n{replica.log()}", file=sys.stderr)

    stats = emulator.emulator.stats
    threads = research_threads(slack)
    posts, files = report_posts(slack), report_files(slack)
    lost = sum(1 for ts in threads if posts[ts] == 0 or files[ts] == 0)
    duplicates = sum(max(0, posts[ts] - 1) + max(0, files[ts] - 1) for ts in threads)
    taken = takeovers(emulator, held, victim, killed_at)
    delays = [t.delay_after_expiry for t in taken if t.delay_after_expiry is not None]
    per_job = upstream_per_job(emulator, final)
    updates = Counter(str(c.args.get("ts")) for c in slack.calls_to("chat.update"))
    return {
        "jobs": args.jobs,
        "replicas": args.replicas,
        "lease_seconds": args.lease_seconds,
        "research_seconds": args.research_seconds,
        "cpus": os.cpu_count(),
        "statuses": dict(Counter(v.status for v in final.values())),
        "seconds": {
            "replicas_start": round(ready - started, 1),
            "create_all_jobs": round(created - ready, 1),
            "kill_to_all_finished": round(finished - created, 1),
        },
        "killed_replica_jobs": len(held),
        "taken_over": len(delays),
        "takeover_delay_after_lease_expiry_s": _summary(delays),
        "upstream_requests_per_job": _summary([float(n) for n in per_job.values()]),
        "jobs_with_two_watchers_at_once": sum(1 for job_id in final if stats.replica_overlaps(job_id)),
        "max_replicas_per_job": max((len(stats.replicas_for(job_id)) for job_id in final), default=0),
        "deliveries": {"threads": len(threads), "lost": lost, "duplicate_posts": duplicates},
        "slack_chat_update_per_job": _summary([float(n) for n in updates.values()]),
        "survivors_alive": survivors_alive,
    }


async def _diagnose(cluster: Cluster, emulator: EmulatorHandle) -> None:
    """What became of the runs that did not finish: lease, upstream requests, and what the replicas logged."""
    now = time.time()
    for lease in (await cluster.leases()).values():
        if lease.status != "in_progress":
            continue
        expires = lease.expires_at.timestamp() - now if lease.expires_at else None
        owner = cluster.owner_of(lease.owner)
        print(
            f"unfinished {lease.job_id}: lease {owner.name if owner else lease.owner} expires {expires}",
            file=sys.stderr,
        )
        print(
            "  upstream: " + describe(emulator.emulator.stats.upstream_requests(lease.job_id)),
            file=sys.stderr,
        )
        for replica in cluster.replicas:
            for line in replica.bot.lines:
                if lease.job_id in line:
                    print(f"  {replica.name}: {line[:300]}", file=sys.stderr)


async def _diagnose_delivery(cluster: Cluster, thread_ts: str, posts: int, files: int) -> None:
    """Why a thread got no report (or only part of it): the job and its delivery record."""
    store = cluster.store
    assert store is not None
    async with store.engine.connect() as conn:
        job = (await conn.execute(select(jobs).where(jobs.c.thread_ts == thread_ts))).first()
        rows = (
            await conn.execute(select(deliveries).where(deliveries.c.destination.like(f"%{thread_ts}")))
        ).all()
    print(
        f"thread {thread_ts}: {posts} summary, {files} file; job {job and dict(job._mapping)}",
        file=sys.stderr,
    )
    for row in rows:
        print(f"  delivery {dict(row._mapping)}", file=sys.stderr)
        for replica in cluster.replicas:
            for line in replica.bot.lines:
                if row.job_id in line:
                    print(f"  {replica.name}: {line[:300]}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--lease-seconds", type=float, default=5.0)
    parser.add_argument("--research-seconds", type=float, default=20.0, help="emulated run length per job")
    parser.add_argument("--concurrency", type=int, default=20, help="slash commands in flight at once")
    parser.add_argument("--timeout", type=float, default=180.0, help="bound on each wait")
    parser.add_argument("--settle-seconds", type=float, default=5.0)
    args = parser.parse_args()

    bin_dir = find_bin_dir()
    if bin_dir is None:
        sys.exit(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install them: apt-get install postgresql"
        )
    server = PostgresServer(bin_dir)
    root = Path(tempfile.mkdtemp(prefix="replicas-bench-"))
    emulator = run_emulator_in_thread(
        EmulatorConfig(research_steps=3, report_chars=3000), host="127.0.0.1", port=0
    )
    try:
        server.start()
        result = asyncio.run(run(args, server.create_database(), emulator, root))
    finally:
        emulator.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
