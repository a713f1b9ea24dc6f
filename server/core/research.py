"""Deep Research jobs: start, watch until terminal, save the report, tell listeners. Never lose one.

One supervised watcher task per unfinished job this process holds a lease on. A watcher streams the
interaction (resuming after the last ``event_id``), falls back to polling when the stream ends without
``interaction.completed``, breaks or hangs, and gives up at the deadline (cancelling upstream). On a
terminal status it fetches the interaction once, writes the report under the data dir and marks the job
finished in the store; ``finish_job`` is conditional, so listeners hear of each job once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import mimetypes
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup

from . import errors, images
from .domain import TERMINAL_STATUSES, Answer, GeneratedImage, Origin, ResearchJob, disposition
from .logs import bind_interaction, interaction_context

if TYPE_CHECKING:
    from .gateway import Gateway
    from .settings import Settings
    from .store import Store

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "gemini_research_events"
NOT_FOUND_GRACE_SECONDS = 60.0  # a fresh id may 404 for a while (googleapis/python-genai#2985)
PROGRESS_PUBLISH_SECONDS = 2.0
RESUME_POINT_SECONDS = 30.0
STREAM_GIVE_UP_AFTER = 3  # consecutive stream failures before polling only
REPORT_FETCH_SECONDS = 30.0
# A watcher stops this share of the lease before the lease ends: on a loaded machine the timer fires late and
# closing the stream takes a moment, and another replica may take the job the instant the lease expires.
LEASE_MARGIN = 0.2
FINISH_SECONDS = 30.0  # bound on marking a job finished and telling listeners (not cancellable)
LEASE_RENEWALS = 4  # renewals per lease period
LEASE_LOOKS = 3  # looks per lease period for jobs whose lease expired (their replica died)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """Published for every job change, across processes. kind: 'started', 'progress' or 'finished'."""

    kind: str
    job: ResearchJob


def _now() -> datetime:
    return datetime.now(UTC)


def elapsed_seconds(job: ResearchJob) -> float:
    if job.created_at is None:
        return 0.0
    end = job.finished_at or _now()
    return max(0.0, (end - job.created_at).total_seconds())


def can_view(job: ResearchJob, viewer: Origin) -> bool:
    if viewer.source == "slack":
        return job.origin.source == "slack" and job.origin.team_id == viewer.team_id
    return job.origin.source == "mcp" and job.origin.owner == viewer.owner


def default_replica_id() -> str:
    """Host, process and a random suffix: unique per process, readable in logs."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def slack_destination(origin: Origin) -> str | None:
    if origin.source != "slack" or not (origin.team_id and origin.channel_id and origin.thread_ts):
        return None
    return f"slack:{origin.team_id}:{origin.channel_id}:{origin.thread_ts}"


class ResearchService:
    def __init__(
        self, settings: Settings, gateway: Gateway, store: Store, *, replica_id: str | None = None
    ) -> None:
        self._settings = settings
        self._gateway = gateway
        self._store = store
        self.replica_id = replica_id or default_replica_id()
        self._watchers: dict[str, anyio.CancelScope] = {}
        # Jobs being marked finished here: their leases are no longer renewed, and that is no reason to stop.
        self._finishing: set[str] = set()
        self._tg: TaskGroup | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # where the store lives, for read_report

    # -- public API -----------------------------------------------------------------------------------------

    async def start(self, prompt: str, *, agent: str | None = None, origin: Origin) -> ResearchJob:
        from .service import check_prompt  # the one size rule for prompts (service imports this module)

        prompt = prompt.strip()
        if not prompt:
            raise errors.InvalidInput("The research prompt is empty: say what to research.")
        prompt = check_prompt(prompt, what="research prompt")
        chosen = (agent or "").strip()
        agent = chosen or self._settings.research_agent
        created = await self._gateway.start_research(prompt, agent=agent, agent_from_argument=bool(chosen))
        with interaction_context(created.interaction_id):
            return await self._record(created.interaction_id, prompt, agent, origin)

    async def _record(self, interaction_id: str, prompt: str, agent: str, origin: Origin) -> ResearchJob:
        """Store a run Gemini has just started, and watch it; cancel it upstream if it cannot be stored."""
        job = ResearchJob(
            interaction_id=interaction_id,
            prompt=prompt,
            agent=agent,
            origin=origin,
            status="in_progress",
            created_at=_now(),
        )
        try:
            destination = slack_destination(origin)
            await self._store.create_job(job, destinations=[destination] if destination else [])
        except Exception:
            log.exception("recording research job %s failed; cancelling it upstream", job.interaction_id)
            with anyio.CancelScope(shield=True):
                try:
                    await self._gateway.cancel(job.interaction_id)
                except errors.GeminiInteractionsError:
                    log.warning("could not cancel %s upstream", job.interaction_id)
            raise errors.GeminiInteractionsError(
                "The research run could not be recorded (database error), so it was cancelled. Try again."
            ) from None
        asked = anyio.current_time()
        if await self._store.claim_job(job.interaction_id, self.replica_id, self._settings.lease_seconds):
            self._spawn(job, asked)
        await self._publish("started", job.interaction_id)
        log.info("research %s started (agent %s)", job.interaction_id, agent)
        return job

    async def get(self, interaction_id: str, *, viewer: Origin) -> ResearchJob:
        job = await self._store.get_job(interaction_id.strip())
        if job is None or not can_view(job, viewer):
            raise errors.ResearchNotFound(
                f"No research run {interaction_id!r} is known here. Check the id (your runs are listed by "
                "list_research in MCP, /gemini status in Slack), or start a new one."
            )
        return job

    async def cancel(self, interaction_id: str, *, viewer: Origin) -> ResearchJob:
        with interaction_context(interaction_id):
            return await self._cancel(interaction_id, viewer)

    async def _cancel(self, interaction_id: str, viewer: Origin) -> ResearchJob:
        job = await self.get(interaction_id, viewer=viewer)
        if job.origin.owner != viewer.owner:
            raise errors.Forbidden("Only the person who started this research run can cancel it.")
        if job.terminal:
            return job
        try:
            await self._gateway.cancel(job.interaction_id)
        except (errors.UpstreamRejected, errors.NotFound):
            pass  # no longer running upstream: the final fetch below tells what it became
        await self._finalize(job.interaction_id, fallback_status="cancelled")
        scope = self._watchers.get(job.interaction_id)
        if scope is not None:
            scope.cancel()
        return await self._store.get_job(job.interaction_id) or job

    async def list(self, *, viewer: Origin, status: str | None = None, limit: int = 20) -> list[ResearchJob]:
        if viewer.source == "slack":
            jobs = await self._store.list_jobs(
                team_id=viewer.team_id, source="slack", status=status, limit=limit * 4
            )
            return [j for j in jobs if j.origin.owner == viewer.owner][:limit]
        jobs = await self._store.list_jobs(source="mcp", status=status, limit=max(limit * 4, 200))
        return [j for j in jobs if j.origin.owner == viewer.owner][:limit]

    def read_report(self, job: ResearchJob) -> str:
        """The report: this replica's copy in the data dir, else the database's (another replica finished it).

        Blocking: call it in a worker thread. Called on the event loop, it reads the file only.
        """
        if job.report_path:
            try:
                return Path(job.report_path).read_text(encoding="utf-8")
            except OSError:
                pass
        if not job.terminal or self._loop is None:
            return ""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a worker thread, as it should be: ask the store on the loop
            stored = asyncio.run_coroutine_threadsafe(self._store.get_report(job.interaction_id), self._loop)
            return stored.result(REPORT_FETCH_SECONDS) or ""
        log.warning(
            "report of %s is not in this data dir, and was asked for on the event loop", job.interaction_id
        )
        return ""

    async def report_images(self, job: ResearchJob) -> list[GeneratedImage]:
        """The report's images (charts): this replica's copies in the data dir, else the database's."""
        if not job.image_paths:
            return []
        local = await anyio.to_thread.run_sync(_read_images, job.image_paths)
        if local is not None:
            return local
        return await self._store.get_report_images(job.interaction_id)

    @asynccontextmanager
    async def events(self) -> AsyncIterator[AsyncIterator[JobEvent]]:
        async with self._store.listen(EVENTS_CHANNEL) as payloads:

            async def iterate() -> AsyncIterator[JobEvent]:
                async for payload in payloads:
                    try:
                        data = json.loads(payload)
                        job = await self._store.get_job(data["id"])
                    except Exception:
                        log.exception("bad research event %r", payload)
                        continue
                    if job is not None:
                        yield JobEvent(kind=data["kind"], job=job)

            yield iterate()

    # -- supervision ------------------------------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Resume every unfinished job we can claim, then keep leases fresh and pick up orphans."""
        self._loop = asyncio.get_running_loop()
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
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    try:
                        await self._store.release_leases(self.replica_id)
                    except Exception:
                        log.exception("releasing leases failed")

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
            elif job_id not in self._finishing:
                log.warning("lease on %s was lost; another replica watches it now", job_id)
                scope.cancel()
        await self._watch_again(held, asked)

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
        """Watch ``job`` until its lease (taken at ``claimed_at``, loop time) runs out unless renewed.

        The watcher stops by itself at the lease's end: when renewals are late (a slow or unreachable database)
        another replica may take the job as soon as the lease expires, and two must never watch it at once.
        """
        if self._tg is None or job.interaction_id in self._watchers:
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
                        await self._watch(job)
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

    # -- one job --------------------------------------------------------------------------------------------

    async def _watch(self, job: ResearchJob) -> None:
        settings = self._settings
        job_id = job.interaction_id
        created = job.created_at or _now()
        deadline = (
            anyio.current_time() + settings.research_deadline_seconds - (_now() - created).total_seconds()
        )
        state = _Progress(last_event_id=job.last_event_id, saved_event_id=job.last_event_id)
        stream_failures = 0
        poll_failures = 0
        while True:
            current = await self._store.get_job(job_id)
            if current is None or current.terminal:
                return
            if anyio.current_time() >= deadline:
                await self._time_out(job_id)
                return
            if stream_failures < STREAM_GIVE_UP_AFTER:
                with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                    outcome = await self._follow_stream(job_id, state)
                    if outcome == "completed":
                        if await self._finalize(job_id):
                            return
                    stream_failures = 0 if outcome == "ended_after_events" else stream_failures + 1
            try:
                answer = await self._gateway.get(
                    job_id, timeout=min(30.0, settings.request_timeout_seconds), with_images=True
                )
                poll_failures = 0
            except errors.NotFound:
                if (_now() - created).total_seconds() < NOT_FOUND_GRACE_SECONDS:
                    await anyio.sleep(settings.poll_seconds)
                    continue
                if await self._store.finish_job(
                    job_id,
                    "failed",
                    error="Gemini no longer knows this interaction (404); it may have expired.",
                ):
                    log.info("research %s finished: failed (Gemini answers 404 for it)", job_id)
                    await self._publish("finished", job_id)
                return
            except errors.UpstreamError as exc:
                poll_failures += 1
                wait = getattr(exc, "retry_after", None) or settings.poll_seconds * min(8, 1.5**poll_failures)
                log.warning("polling %s failed (%s); next try in %.1f s", job_id, exc, wait)
                await anyio.sleep(min(wait, max(0.0, deadline - anyio.current_time())))
                continue
            match disposition(answer.status):
                case "terminal":
                    await self._finalize(job_id, answer=answer)
                    return
                case "action":  # the run waits for us (a function result we cannot give): end it, say why
                    await self._finalize(job_id, answer=answer, fallback_status="failed")
                    return
                case "unknown":
                    if answer.status not in state.unknown_statuses:
                        state.unknown_statuses.add(answer.status)
                        log.warning(
                            "research %s reports status %r, unknown to this version; waiting for it to end",
                            job_id,
                            answer.status,
                        )
            if stream_failures >= STREAM_GIVE_UP_AFTER:
                await anyio.sleep(settings.poll_seconds)

    async def _follow_stream(self, job_id: str, state: _Progress) -> str:
        """Returns 'completed', 'ended_after_events' (cut after progress) or 'failed'."""
        saw_events = False
        try:
            async for update in self._gateway.stream(
                job_id,
                last_event_id=state.last_event_id,
                read_timeout=self._settings.stream_read_timeout_seconds,
            ):
                if update.event_id:
                    state.last_event_id = update.event_id
                    saw_events = True
                if update.kind == "progress" and update.text:
                    state.progress = update.text
                if update.kind == "completed" or (
                    update.kind == "status" and update.status in TERMINAL_STATUSES
                ):
                    if state.progress != state.saved_progress:  # the event id alone no longer matters
                        await self._save_progress(job_id, state, force=True)
                    return "completed"
                if update.kind == "error":
                    log.warning("stream of %s reported an error: %s", job_id, update.text)
                    break
                await self._save_progress(job_id, state)
        except errors.UpstreamTimeout:
            log.info("stream of %s went quiet; polling", job_id)
        except errors.NotFound:
            pass
        except errors.UpstreamError as exc:
            log.info("stream of %s broke (%s); polling", job_id, exc)
        await self._save_progress(job_id, state, force=True)
        return "ended_after_events" if saw_events else "failed"

    async def _save_progress(self, job_id: str, state: _Progress, *, force: bool = False) -> None:
        now = anyio.current_time()
        progress_changed = state.progress != state.saved_progress
        if force:
            if not progress_changed and state.last_event_id == state.saved_event_id:
                return
        elif progress_changed:
            if now - state.published_at < PROGRESS_PUBLISH_SECONDS:
                return
        elif state.last_event_id == state.saved_event_id or now - state.saved_at < RESUME_POINT_SECONDS:
            return  # the resume point alone is checkpointed rarely: a store write per event would not scale
        fields: dict[str, object] = {"last_event_id": state.last_event_id}
        if progress_changed:
            fields["progress"] = state.progress
        await self._store.update_job(job_id, **fields)
        state.saved_event_id, state.saved_progress, state.saved_at = state.last_event_id, state.progress, now
        if progress_changed:
            state.published_at = now
            await self._publish("progress", job_id)

    async def _time_out(self, job_id: str) -> None:
        minutes = self._settings.research_deadline_seconds / 60
        log.warning("research %s passed its deadline; cancelling upstream", job_id)
        try:
            await self._gateway.cancel(job_id)
        except errors.GeminiInteractionsError as exc:
            log.warning("cancelling %s upstream failed: %s", job_id, exc)
        if await self._store.finish_job(
            job_id,
            "timed_out",
            error=f"Gave up after {minutes:g} minutes without a result; the run was cancelled upstream. "
            "Try a narrower topic.",
        ):
            log.info("research %s finished: timed_out", job_id)
            await self._publish("finished", job_id)

    async def _finalize(
        self, job_id: str, *, answer: Answer | None = None, fallback_status: str | None = None
    ) -> bool:
        """Fetch the final interaction once, save report and images, mark the job terminal. True when done."""
        if answer is None or answer.status not in TERMINAL_STATUSES:
            for attempt in range(4):
                try:
                    answer = await self._gateway.get(
                        job_id, timeout=min(30.0, self._settings.request_timeout_seconds), with_images=True
                    )
                    break
                except errors.UpstreamError as exc:
                    log.warning("final fetch of %s failed (%s), attempt %d", job_id, exc, attempt + 1)
                    await anyio.sleep(min(10.0, self._settings.poll_seconds * 2**attempt))
        if answer is None:
            if fallback_status is None:
                return False
            answer = Answer(interaction_id=job_id, status=fallback_status)
        status = answer.status
        if status not in TERMINAL_STATUSES:
            if fallback_status is None:
                return False
            status = fallback_status
        report = _report_markdown(answer)
        report_path, image_paths = await anyio.to_thread.run_sync(self._save_outputs, job_id, report, answer)
        error = None
        if status != "completed":
            error = answer.error or _STATUS_HELP.get(answer.status) or _STATUS_HELP.get(status)
        # Once the job is marked finished its lease is no longer renewed: the watcher must not be cancelled
        # between that write and the 'finished' event, or listeners would never hear of it.
        self._finishing.add(job_id)
        try:
            with anyio.CancelScope(shield=True), anyio.move_on_after(FINISH_SECONDS):
                if await self._store.finish_job(
                    job_id,
                    status,
                    report_path=report_path,
                    image_paths=image_paths,
                    error=error,
                    report=report,
                    images=answer.images,
                ):
                    log.info("research %s finished: %s", job_id, status)
                    await self._publish("finished", job_id)
        finally:
            self._finishing.discard(job_id)
        return True

    def _save_outputs(self, job_id: str, report: str | None, answer: Answer) -> tuple[str | None, list[str]]:
        """A copy of the report and the images in the data dir, for people who look there."""
        directory = self._settings.reports_dir
        directory.mkdir(parents=True, exist_ok=True)
        image_paths = [
            str(images.save(image, directory, f"{job_id}-{n}").path)
            for n, image in enumerate(answer.images, 1)
        ]
        if report is None:
            return None, image_paths
        # The id comes from upstream: made safe as a name, it cannot place the file outside the directory.
        path = directory / f"{images.safe_stem(job_id, limit=200) or 'report'}.md"
        tmp = path.with_suffix(".md.part")
        tmp.write_text(report, encoding="utf-8")
        tmp.replace(path)
        return str(path.resolve()), image_paths

    async def _publish(self, kind: str, job_id: str) -> None:
        try:
            await self._store.notify(EVENTS_CHANNEL, json.dumps({"kind": kind, "id": job_id}))
        except Exception:
            log.exception("publishing %s of %s failed", kind, job_id)


def _read_images(paths: list[str]) -> list[GeneratedImage] | None:
    """The images at ``paths``; None when any of them is not on this machine."""
    found = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None
        found.append(GeneratedImage(data=data, mime_type=mimetypes.guess_type(path)[0] or "image/png"))
    return found


def _report_markdown(answer: Answer) -> str | None:
    if not answer.text:
        return None
    if not answer.citations:
        return answer.text
    sources = "\n".join(f"{n}. [{c.title or c.url}]({c.url})" for n, c in enumerate(answer.citations, 1))
    return f"{answer.text.rstrip()}\n\n## Sources\n\n{sources}\n"


_STATUS_HELP = {
    "failed": "Gemini reported that the research run failed. Try again, perhaps with a narrower topic.",
    "cancelled": "The research run was cancelled.",
    "incomplete": "The run stopped before finishing; the partial report (if any) is kept. Try a narrower topic.",
    "budget_exceeded": "The run hit its budget before finishing. Try a narrower topic.",
    "requires_action": "The research run stopped to wait for an action this server cannot take (a function "
    "result, or an answer to a plan), so it was ended. Start a new run.",
}


@dataclass(slots=True)
class _Progress:
    last_event_id: str | None = None
    progress: str | None = None
    saved_event_id: str | None = None
    saved_progress: str | None = None
    saved_at: float = -math.inf  # last write of any kind (the resume point alone is written rarely)
    published_at: float = -math.inf  # last progress event (published at most every PROGRESS_PUBLISH_SECONDS)
    unknown_statuses: set[str] = field(default_factory=set)  # upstream statuses newer than us, logged once
