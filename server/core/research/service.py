"""Deep Research jobs, as the front doors see them: start, look up, list, cancel, read the report, follow events.

A run is recorded in the store the moment Gemini has started it (``starts.py``: an intent first, so that a start
cut short still shows, as ``start_unknown``), with the opaque ``destinations`` its report must reach (a front
door's own format, e.g. a Slack thread); this process then takes its lease and watches it (``leases.py``,
``watch.py``) until it ends. Never lose one.

Plan first (``plan_first``): Gemini's collaborative planning. The job starts as a planning turn; once the agent
has proposed its plan the job is ``awaiting_approval`` and nobody watches it. ``approve`` moves it back to
``in_progress`` in one conditional update (of two approvals at once, one wins), then starts the run that
continues the plan and records that run's id on the job, which keeps the id it was started with. Both creates
(the start, the approved run) go through ``starts.py``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from .. import errors
from ..costs import combined
from ..domain import START_UNKNOWN, Answer, GeneratedImage, Origin, ResearchJob
from ..limits import check_prompt
from ..logs import interaction_context
from .events import JobEvent, publish, subscribe
from .leases import LeaseKeeper, default_replica_id
from .pushes import PushSignals, relay
from .reports import ReportFiles
from .starts import Starter
from .watch import RunWatcher

if TYPE_CHECKING:
    from ..costs import Costs
    from ..gateway import Gateway
    from ..settings import Settings
    from ..store import Store

log = logging.getLogger("server.core.research")

RUN_AS_PLANNED = "Plan looks good! Run the research as planned."
RUN_WITH_CHANGES = "Run the research with these changes to the plan:\n\n{changes}"
PLAN_CANCELLED = "Cancelled before its plan ran; nothing was researched."
DELIVERY_MEMORY_SECONDS = 48 * 3600.0  # Gemini retries a delivery for up to 24 h
PRUNE_EVERY_SECONDS = 3600.0


def _now() -> datetime:
    return datetime.now(UTC)


def elapsed_seconds(job: ResearchJob) -> float:
    """Seconds since the job started, until it finished (0 for a start we know nothing more of)."""
    if job.created_at is None or job.status == START_UNKNOWN:
        return 0.0
    end = job.finished_at or _now()
    return max(0.0, (end - job.created_at).total_seconds())


def not_awaiting(job: ResearchJob) -> errors.NotAwaitingApproval:
    """Why the plan of ``job`` cannot be approved now, said for people."""
    name = f"Research run {job.interaction_id}"
    if not job.plan_first:
        message = f"{name} was not started with a plan to approve; it runs on its own."
    elif job.status == "in_progress" and job.approved_at is None:
        message = f"The plan of {name.lower()} is still being drafted; check its status again in a minute."
    elif job.status == "in_progress":
        message = f"{name} already runs its approved plan; follow it with its status."
    elif job.status == "cancelled":
        message = f"{name} was cancelled, so its plan can no longer run. Start a new run."
    else:
        message = f"{name} already ended ({job.status}); its plan can no longer run."
    return errors.NotAwaitingApproval(message, status=job.status, approved=job.approved_at is not None)


def can_view(job: ResearchJob, viewer: Origin) -> bool:
    """Slack users see their workspace's runs; an MCP caller sees its own."""
    if viewer.source == "slack":
        return job.origin.source == "slack" and job.origin.team_id == viewer.team_id
    return job.origin.source == "mcp" and job.origin.owner == viewer.owner


class ResearchService:
    def __init__(
        self,
        settings: Settings,
        gateway: Gateway,
        store: Store,
        costs: Costs,
        *,
        replica_id: str | None = None,
    ) -> None:
        self._settings = settings
        self._gateway = gateway
        self._store = store
        self._costs = costs
        self.replica_id = replica_id or default_replica_id()
        self._reports = ReportFiles(settings, store)
        # With webhooks on, runs are watched without streams and woken by pushes (``pushes.py``).
        self._pushes = PushSignals() if settings.webhooks_enabled else None
        self._watcher = RunWatcher(settings, gateway, store, self._reports, costs, self._pushes)
        self._leases = LeaseKeeper(
            settings, store, self._watcher, replica_id=self.replica_id, pushes=self._pushes
        )
        self._starter = Starter(
            settings, gateway, store, replica_id=self.replica_id, starting=self._watcher.starting
        )

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Settle starts cut short by a crash (``starts.py``), and watch every unfinished run this process can
        claim (``leases.py``), until cancelled."""
        self._reports.bind_loop()
        async with anyio.create_task_group() as tg:
            await tg.start(functools.partial(self._starter.run, lone=self._store.dialect == "sqlite"))
            if self._pushes is not None:
                tg.start_soon(relay, self._store, self._pushes, name="webhook pushes → watchers")
                tg.start_soon(self._forget_old_deliveries, name="forget old webhook deliveries")
            await self._leases.run(task_status=task_status)

    async def _forget_old_deliveries(self) -> None:
        """Webhook deliveries are kept for deduping Gemini's retries (it retries for up to a day), then pruned."""
        while True:
            try:
                pruned = await self._store.prune_webhooks(DELIVERY_MEMORY_SECONDS)
                if pruned:
                    log.info(
                        "forgot %d webhook deliveries older than %.0f h",
                        pruned,
                        DELIVERY_MEMORY_SECONDS / 3600,
                    )
            except Exception:
                log.exception("pruning webhook deliveries failed; trying again later")
            await anyio.sleep(PRUNE_EVERY_SECONDS)

    async def start(
        self,
        prompt: str,
        *,
        agent: str | None = None,
        origin: Origin,
        destinations: Sequence[str] = (),
        plan_first: bool = False,
    ) -> ResearchJob:
        """Start a run on Gemini and record it; its report is to reach each of ``destinations`` (opaque here).

        ``plan_first``: the agent proposes a plan first; the job then awaits ``approve`` (or ``cancel``).

        The operator's limits are checked (and the start counted) first: LimitReached says which and when it
        resets. A start Gemini refuses is not counted.
        """
        prompt = check_prompt(prompt, what="research prompt", hint="say what to research")
        chosen = (agent or "").strip()
        agent = chosen or self._settings.research_agent
        reservation = await self._costs.limits.take_research_start(origin.owner)

        def create() -> Awaitable[Answer]:
            return self._gateway.start_research(
                prompt, agent=agent, agent_from_argument=bool(chosen), plan_first=plan_first
            )

        try:
            job = await self._starter.start(
                prompt,
                agent=agent,
                origin=origin,
                destinations=list(destinations),
                create=create,
                plan_first=plan_first,
            )
        except errors.StartUnknown:
            raise  # it may have run, and been billed: it stays counted
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._costs.limits.give_back(reservation)
            raise
        with interaction_context(job.interaction_id):
            await self._watch_new(job)
        return job

    async def _watch_new(self, job: ResearchJob) -> None:
        """Watch a run just recorded, and tell every process it started."""
        try:
            await self._leases.claim(job)
        except Exception:  # recorded all the same: the next look for unwatched runs takes it
            log.warning("taking the lease on %s failed; it will be picked up shortly", job.interaction_id)
        await publish(self._store, "started", job.interaction_id)
        log.info(
            "research %s started (agent %s%s)",
            job.interaction_id,
            job.agent,
            ", plan first" if job.plan_first else "",
        )

    async def settle_starts(self) -> list[ResearchJob]:
        """Turn starts that were cut short (older than any live start can be) into ``start_unknown`` jobs now."""
        return await self._starter.settle()

    async def approve(
        self, interaction_id: str, *, viewer: Origin, changes: str | None = None
    ) -> ResearchJob:
        """Run a plan awaiting approval, as planned or with ``changes``; only its starter may. Raises
        ``NotAwaitingApproval`` when the plan is not waiting (not ready yet, already approved, cancelled)."""
        job = await self.get(interaction_id, viewer=viewer)
        with interaction_context(job.interaction_id):
            return await self._approve(job, viewer, changes)

    async def _approve(self, job: ResearchJob, viewer: Origin, changes: str | None) -> ResearchJob:
        if job.origin.owner != viewer.owner:
            raise errors.Forbidden("Only the person who started this research run can approve its plan.")
        await self._costs.limits.check_budget()  # running the plan spends: the month's budget must allow it
        wanted = (
            check_prompt(changes, what="changes", hint="say what to change in the plan")
            if changes and changes.strip()
            else None
        )
        job_id = job.interaction_id
        approved = await self._store.approve_job(
            job_id, self.replica_id, self._settings.lease_seconds, changes=wanted
        )
        if approved is None:
            raise not_awaiting(await self._store.get_job(job_id) or job)
        reply = RUN_WITH_CHANGES.format(changes=wanted) if wanted else RUN_AS_PLANNED

        def create() -> Awaitable[Answer]:
            return self._gateway.run_plan(job_id, reply, agent=job.agent)

        running = await self._starter.start_approved(approved, create)
        if running is None:  # cancelled while its run started (and the run then cancelled)
            return await self._store.get_job(job_id) or approved
        await self._leases.claim(running)
        await publish(self._store, "approved", job_id)
        log.info(
            "research %s: plan approved%s; run %s",
            job_id,
            " with changes" if wanted else "",
            running.run_id,
        )
        return running

    async def thread_id(self, interaction_id: str) -> str:
        """Where a follow-up on ``interaction_id`` continues from: a planned job's run (it holds the report),
        else the id itself."""
        job = await self._store.get_job(interaction_id)
        return job.run_id if job is not None and job.run_id else interaction_id

    async def get(self, interaction_id: str, *, viewer: Origin) -> ResearchJob:
        job = await self._store.find_job(interaction_id.strip())
        if job is None or not can_view(job, viewer):
            raise errors.ResearchNotFound(
                f"No research run {interaction_id!r} is known here. Check the id (your runs are listed by "
                "list_research in MCP, /gemini status in Slack), or start a new one."
            )
        return (await self._with_usage([job]))[0]

    async def _with_usage(self, jobs: list[ResearchJob]) -> list[ResearchJob]:
        """The jobs with the usage and estimated cost recorded so far (a planned job's plan and its run are
        billed apart, and summed here), in one query."""
        ids = [i for job in jobs for i in (job.interaction_id, job.run_id) if i]
        recorded = await self._store.usage_of(ids, "research")
        for job in jobs:
            found = [recorded[i] for i in (job.interaction_id, job.run_id) if i and i in recorded]
            if found:
                job.usage, job.cost = combined(found)
        return jobs

    async def cancel(self, interaction_id: str, *, viewer: Origin) -> ResearchJob:
        with interaction_context(interaction_id):
            return await self._cancel(interaction_id, viewer)

    async def _cancel(self, interaction_id: str, viewer: Origin) -> ResearchJob:
        job = await self.get(interaction_id, viewer=viewer)
        if job.origin.owner != viewer.owner:
            raise errors.Forbidden("Only the person who started this research run can cancel it.")
        if job.terminal:
            return job
        job_id = job.interaction_id
        if job.plan_first and job.run_id is None:  # drafting a plan, awaiting approval, or starting its run
            if job.planning and not job.awaiting_approval:
                try:
                    await self._gateway.cancel(job_id)
                except (errors.UpstreamRejected, errors.NotFound):
                    pass  # the planning turn already ended
            if await self._store.finish_job(job_id, "cancelled", error=PLAN_CANCELLED):
                log.info("research %s finished: cancelled before its plan ran", job_id)
                await publish(self._store, "finished", job_id)
            self._leases.stop_watching(job_id)
            return await self._store.get_job(job_id) or job
        try:
            await self._gateway.cancel(job.upstream_id)
        except (errors.UpstreamRejected, errors.NotFound):
            pass  # no longer running upstream: the final fetch below tells what it became
        await self._watcher.finalize(job_id, fallback_status="cancelled", upstream_id=job.upstream_id)
        self._leases.stop_watching(job_id)
        return await self._store.get_job(job_id) or job

    def read_report(self, job: ResearchJob) -> str:
        """The report: this replica's copy in the data dir, else the database's (another replica finished it).

        Blocking: call it in a worker thread. Called on the event loop, it reads the file only.
        """
        return self._reports.read(job)

    async def report_images(self, job: ResearchJob) -> list[GeneratedImage]:
        """The report's images (charts): this replica's copies in the data dir, else the database's."""
        return await self._reports.images(job)

    def events(self) -> AbstractAsyncContextManager[AsyncIterator[JobEvent]]:
        """``async with research.events() as events: async for event in events: ...`` (every process's)."""
        return subscribe(self._store)

    # Last in the class: below it, ``list`` in an annotation would name this method, not the builtin.
    async def list(self, *, viewer: Origin, status: str | None = None, limit: int = 20) -> list[ResearchJob]:
        """The viewer's own runs, newest first."""
        if viewer.owner is not None:
            team = viewer.team_id if viewer.source == "slack" else None
            jobs = await self._store.list_jobs(
                owner=viewer.owner, team_id=team, source=viewer.source, status=status, limit=limit
            )
            return await self._with_usage(jobs)
        if viewer.source != "mcp":
            return []
        # The local user's runs are those with no owner; the store's owner filter cannot say "none".
        jobs = await self._store.list_jobs(source="mcp", status=status, limit=max(limit * 4, 200))
        return await self._with_usage([j for j in jobs if j.origin.owner is None][:limit])
