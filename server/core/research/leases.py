"""Lease supervision: exactly one replica watches each unfinished run.

This process claims unfinished jobs (all of them at start on SQLite, where one process owns the file; orphans
whose lease expired on PostgreSQL), renews its leases on a steady beat, and runs one supervised watcher task
per job it holds. A watcher stops by itself at its lease's end unless the lease is renewed: when renewals are
late (a slow or unreachable database) another replica may take the job as soon as the lease expires, and two
must never watch it at once.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from ..domain import ResearchJob
from ..logs import bind_interaction
from .pushes import PushSignals
from .watch import RunWatcher

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store import Store

log = logging.getLogger("server.core.research")

# A watcher stops this share of the lease before the lease ends: on a loaded machine the timer fires late and
# closing the stream takes a moment, and another replica may take the job the instant the lease expires.
LEASE_MARGIN = 0.2
LEASE_RENEWALS = 4  # renewals per lease period
LEASE_LOOKS = 3  # looks per lease period for jobs whose lease expired (their replica died)
RELEASE_SECONDS = 5.0


def default_replica_id() -> str:
    """Host, process and a random suffix: unique per process, readable in logs."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class LeaseKeeper:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        watcher: RunWatcher,
        *,
        replica_id: str,
        pushes: PushSignals | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._watcher = watcher
        self.replica_id = replica_id
        self._pushes = pushes
        self._pushes_seen_at = datetime.now(UTC)
        self._watchers: dict[str, anyio.CancelScope] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Resume every unfinished job we can claim, then keep leases fresh and pick up orphans."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            steal = self._store.dialect == "sqlite"  # one process owns a SQLite file: take everything back
            await self._claim_and_watch(steal_all=steal)
            task_status.started()
            try:
                # Renewals keep their own steady beat: looking for orphans (a bigger query) must not delay them,
                # or watchers would stop at their deadline while their lease is merely late.
                tg.start_soon(self._every, LEASE_RENEWALS, self._renew, name="renew leases")
                await self._every(LEASE_LOOKS, self._claim_and_watch)
            finally:
                self._tg = None
                tg.cancel_scope.cancel()
                with anyio.CancelScope(shield=True), anyio.move_on_after(RELEASE_SECONDS):
                    try:
                        await self._store.release_leases(self.replica_id)
                    except Exception:
                        log.exception("releasing leases failed")

    async def claim(self, job: ResearchJob) -> None:
        """Take the lease on a job just recorded, and watch it."""
        asked = anyio.current_time()
        if await self._store.claim_job(job.interaction_id, self.replica_id, self._settings.lease_seconds):
            self._spawn(job, asked)

    def stop_watching(self, job_id: str) -> None:
        scope = self._watchers.get(job_id)
        if scope is not None:
            scope.cancel()

    async def _every(self, per_lease: int, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` ``per_lease`` times per lease period, on a fixed beat (a slow step delays only itself)."""
        interval = max(0.2, self._settings.lease_seconds / per_lease)
        due = anyio.current_time()
        while True:
            due = max(due + interval, anyio.current_time())
            await anyio.sleep_until(due)
            try:
                await step()
            except Exception:
                log.exception("lease upkeep (%s) failed; retrying", getattr(step, "__name__", step))

    async def _renew(self) -> None:
        asked = anyio.current_time()
        held = await self._store.renew_leases(self.replica_id, self._settings.lease_seconds)
        for job_id, scope in list(self._watchers.items()):
            if job_id in held:
                scope.deadline = self._lease_end(asked)
            elif job_id not in self._watcher.finishing:
                log.warning("lease on %s was lost; another replica watches it now", job_id)
                scope.cancel()
        await self._watch_again(held, asked)
        if self._pushes is not None:
            await self._wake_pushed()

    async def _wake_pushed(self) -> None:
        """Wake the watchers of runs pushed lately: the notification may have been lost (a listener that was
        reconnecting). The window overlaps the last one by a lease: replica clocks differ a little."""
        assert self._pushes is not None
        since = self._pushes_seen_at - timedelta(seconds=self._settings.lease_seconds)
        self._pushes_seen_at = datetime.now(UTC)
        for job_id, received_at in (await self._store.pushed_since(self.replica_id, since)).items():
            if self._pushes.wake(job_id, received_at):
                log.info("research %s was pushed, but no announcement of it reached this replica", job_id)

    async def _claim_and_watch(self, *, steal_all: bool = False) -> None:
        asked = anyio.current_time()
        jobs = await self._store.claim_jobs(
            self.replica_id, self._settings.lease_seconds, steal_all=steal_all
        )
        for job in jobs:
            if job.interaction_id not in self._watchers:
                log.info("watching research %s", job.interaction_id)
                self._spawn(job, asked)

    async def _watch_again(self, held: set[str], asked: float) -> None:
        """Watch the jobs we still hold whose watcher stopped at its lease deadline (a renewal came late)."""
        for job_id in held - self._watchers.keys():
            job = await self._store.get_job(job_id)
            if job is not None and not job.terminal:
                log.info("watching research %s again", job_id)
                self._spawn(job, asked)

    def _lease_end(self, asked: float) -> float:
        """When a watcher whose lease was taken or renewed at ``asked`` (loop time) must stop if not renewed:
        a margin before the lease may pass to another replica.

        Never on SQLite: one process owns the file, so no other replica can take a job over.
        """
        if self._store.dialect == "sqlite":
            return math.inf
        return asked + self._settings.lease_seconds * (1 - LEASE_MARGIN)

    def _spawn(self, job: ResearchJob, claimed_at: float) -> None:
        """Watch ``job`` until its lease (taken at ``claimed_at``, loop time) runs out unless renewed."""
        if (
            self._tg is None
            or job.interaction_id in self._watchers
            or job.interaction_id in self._watcher.starting
        ):
            return
        scope = anyio.CancelScope(deadline=self._lease_end(claimed_at))
        self._watchers[job.interaction_id] = scope
        self._tg.start_soon(self._supervise, job, scope, name=f"watch {job.interaction_id}")

    async def _supervise(self, job: ResearchJob, scope: anyio.CancelScope) -> None:
        bind_interaction(job.interaction_id)  # this task's log lines carry the job's id
        try:
            with scope:
                attempt = 0
                while True:
                    try:
                        await self._watcher.watch(job)
                        return
                    except Exception:
                        attempt += 1
                        log.exception(
                            "watcher of %s failed (attempt %d); restarting", job.interaction_id, attempt
                        )
                        await anyio.sleep(min(60.0, self._settings.poll_seconds * 2**attempt))
            if scope.cancelled_caught and anyio.current_time() >= scope.deadline:
                log.warning("stopped watching %s: its lease was not renewed in time", job.interaction_id)
        finally:
            self._watchers.pop(job.interaction_id, None)
