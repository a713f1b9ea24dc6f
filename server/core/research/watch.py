"""Watching one run until it ends: follow its stream (resuming after the last ``event_id``), fall back to
polling when the stream ends without ``interaction.completed``, breaks or hangs, and give up at the deadline
(cancelling upstream). With webhooks on, no stream: the run is fetched when Gemini pushes news of it, and
otherwise only polled now and then as a safety net.

On a terminal status the run is fetched once, its report written (``reports.py``) and the job marked finished
in the store; ``finish_job`` is conditional, so listeners hear of each job once.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio

from .. import errors
from ..domain import START_UNKNOWN, TERMINAL_STATUSES, Answer, ResearchJob, UsageRecord, disposition
from .endings import CUT_SHORT, NO_PLAN, STATUS_HELP
from .events import publish
from .pushes import PushSignals
from .reports import ReportFiles

if TYPE_CHECKING:
    from ..costs import Costs
    from ..gateway import Gateway
    from ..settings import Settings
    from ..store import Store

log = logging.getLogger("server.core.research")

NOT_FOUND_GRACE_SECONDS = 60.0  # a fresh id may 404 for a while (googleapis/python-genai#2985)
PROGRESS_PUBLISH_SECONDS = 2.0
RESUME_POINT_SECONDS = 30.0
STREAM_GIVE_UP_AFTER = 3  # consecutive stream failures before polling only
FINISH_SECONDS = 30.0  # bound on marking a job finished and telling listeners (not cancellable)
# After a push, a run that still shows as running is looked at again after these waits, then at the safety poll.
PUSH_RECHECK_SECONDS = (1.0, 3.0, 10.0, 30.0)
# With webhooks on, fetches of pushed runs share this many lanes: a burst of deliveries (many runs ending at once)
# then reuses a few pooled connections instead of opening one per run.
PUSHED_FETCHES_AT_ONCE = 8


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Progress:
    last_event_id: str | None = None
    progress: str | None = None
    saved_event_id: str | None = None
    saved_progress: str | None = None
    saved_at: float = -math.inf  # last write of any kind (the resume point alone is written rarely)
    published_at: float = -math.inf  # last progress event (published at most every PROGRESS_PUBLISH_SECONDS)
    unknown_statuses: set[str] = field(default_factory=set)  # upstream statuses newer than us, logged once
    poll_failures: int = 0  # consecutive failed looks (they back off)


class RunWatcher:
    def __init__(
        self,
        settings: Settings,
        gateway: Gateway,
        store: Store,
        reports: ReportFiles,
        costs: Costs,
        pushes: PushSignals | None = None,
    ) -> None:
        """``pushes``: webhooks are on; watch without streams (see ``_watch_pushed``)."""
        self._settings = settings
        self._pushes = pushes
        self._fetch_lanes = anyio.Semaphore(PUSHED_FETCHES_AT_ONCE) if pushes is not None else None
        self._gateway = gateway
        self._store = store
        self._reports = reports
        self._costs = costs
        # Jobs being marked finished here: their leases are no longer renewed, and that is no reason to stop.
        self.finishing: set[str] = set()
        # Approved plans whose run this process is starting: no watcher until the run's id is recorded.
        self.starting: set[str] = set()

    async def watch(self, job: ResearchJob) -> None:
        """Follow ``job`` until it is terminal (here or in another process), its plan awaits the user, or its
        deadline passes. A planned job is followed through its planning turn, then (once approved) its run."""
        settings = self._settings
        job_id = job.interaction_id
        current = await self._store.get_job(job_id)
        if current is None or current.terminal or current.awaiting_approval:
            return
        if current.approved_at is not None and current.run_id is None:
            if job_id not in self.starting:  # whoever approved it died before Gemini's answer was recorded
                await self._start_lost(job_id)
            return
        upstream = current.upstream_id
        created = (current.approved_at if current.run_id else current.created_at) or _now()
        deadline = (
            anyio.current_time() + settings.research_deadline_seconds - (_now() - created).total_seconds()
        )
        state = _Progress(last_event_id=current.last_event_id, saved_event_id=current.last_event_id)
        if self._pushes is not None:
            await self._watch_pushed(job_id, upstream, created, deadline, state)
            return
        stream_failures = 0
        while True:
            current = await self._store.get_job(job_id)
            if current is None or current.terminal or current.awaiting_approval:
                return
            if anyio.current_time() >= deadline:
                await self._time_out(job_id, upstream)
                return
            if stream_failures < STREAM_GIVE_UP_AFTER:
                with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                    outcome = await self._follow_stream(job_id, upstream, state)
                    if outcome == "completed":
                        if await self._settle(current):
                            return
                    stream_failures = 0 if outcome == "ended_after_events" else stream_failures + 1
            wait = await self._look(job_id, upstream, created, state)
            if wait is None:
                return
            if wait > 0:
                await anyio.sleep(min(wait, max(0.0, deadline - anyio.current_time())))
            elif stream_failures >= STREAM_GIVE_UP_AFTER:
                await anyio.sleep(settings.poll_seconds)

    async def _watch_pushed(
        self, job_id: str, upstream: str, created: datetime, deadline: float, state: _Progress
    ) -> None:
        """With webhooks on: no stream. Look at the run when a delivery for it is recorded (here or in another
        replica), and otherwise only every ``webhook_safety_poll_seconds``, in case a delivery never comes."""
        assert self._pushes is not None
        next_look = anyio.current_time() + self._settings.webhook_safety_poll_seconds
        self._pushes.waiter(job_id)  # from now on, announcements for this job reach us
        pushed = await self._store.last_push(job_id)  # pushed before this watcher started
        look_now = pushed is not None and (self._pushes.wake(job_id, pushed) or True)
        rechecks: list[float] = list(PUSH_RECHECK_SECONDS) if look_now else []
        try:
            while True:
                woken = self._pushes.waiter(
                    job_id
                )  # before reading the store: a push in between still wakes us
                current = await self._store.get_job(job_id)
                if current is None or current.terminal or current.awaiting_approval:
                    return
                now = anyio.current_time()
                if now >= deadline:
                    await self._time_out(job_id, upstream)
                    return
                if not look_now and now < next_look:
                    with anyio.move_on_after(min(next_look, deadline) - now):
                        await woken.wait()
                    look_now = woken.is_set()
                    rechecks = list(PUSH_RECHECK_SECONDS) if look_now else rechecks
                    continue
                look_now = False
                wait = await self._look(job_id, upstream, created, state)
                if wait is None:
                    return
                # Pushed, yet still running: the service may show the end a moment after it announced it.
                again = rechecks.pop(0) if rechecks else self._settings.webhook_safety_poll_seconds
                next_look = anyio.current_time() + (wait or again)
        finally:
            self._pushes.forget(job_id)

    async def _look(self, job_id: str, upstream: str, created: datetime, state: _Progress) -> float | None:
        """Fetch the run once and act on where it stands (``_settle``). None: nothing is left to watch (the job
        ended or its plan awaits the user); else how long to wait before the next look (0: no reason to wait)."""
        settings = self._settings
        try:
            async with self._fetch_lanes or contextlib.nullcontext():
                answer = await self._gateway.get(
                    upstream, timeout=min(30.0, settings.request_timeout_seconds), with_images=True
                )
            state.poll_failures = 0
        except errors.NotFound:
            if (_now() - created).total_seconds() < NOT_FOUND_GRACE_SECONDS:
                return settings.poll_seconds
            if await self._store.finish_job(
                job_id,
                "failed",
                error="Gemini no longer knows this interaction (404); it may have expired.",
            ):
                log.info("research %s finished: failed (Gemini answers 404 for it)", job_id)
                await publish(self._store, "finished", job_id)
            return None
        except errors.UpstreamError as exc:
            state.poll_failures += 1
            wait = getattr(exc, "retry_after", None) or settings.poll_seconds * min(
                8, 1.5**state.poll_failures
            )
            log.warning("polling %s failed (%s); next try in %.1f s", job_id, exc, wait)
            return float(wait)
        current = await self._store.get_job(job_id)
        if current is None or current.terminal or current.awaiting_approval:
            return None
        if disposition(answer.status, planning=current.planning) == "unknown":
            if answer.status not in state.unknown_statuses:
                state.unknown_statuses.add(answer.status)
                log.warning(
                    "research %s reports status %r, unknown to this version; waiting for it to end",
                    job_id,
                    answer.status,
                )
        elif await self._settle(current, answer):
            return None
        return 0.0

    async def _settle(self, job: ResearchJob, answer: Answer | None = None) -> bool:
        """Act on where the upstream interaction stands (fetched when ``answer`` is None); True once the job is
        terminal or its plan awaits the user, False to keep watching."""
        if answer is None:
            answer = await self._fetch(job.upstream_id)
            if answer is None:
                return False
        match disposition(answer.status, planning=job.planning):
            case "plan":
                await self._plan_ready(job.interaction_id, answer)
                return True
            case "terminal":
                return await self.finalize(job.interaction_id, answer=answer, upstream_id=job.upstream_id)
            case "action":  # the run waits for us (a function result we cannot give): end it, say why
                return await self.finalize(
                    job.interaction_id, answer=answer, fallback_status="failed", upstream_id=job.upstream_id
                )
        return False

    async def _plan_ready(self, job_id: str, answer: Answer) -> None:
        plan = answer.text.strip()
        billed = await self._billed(job_id, answer)  # the planning turn is billed on its own
        if not plan:
            if await self._store.finish_job(job_id, "failed", error=NO_PLAN, usage=billed):
                log.warning("research %s: the agent proposed no plan", job_id)
                if billed is not None:
                    self._costs.logged(billed)
                await publish(self._store, "finished", job_id)
            return
        self.finishing.add(job_id)  # the lease is dropped with the write: no reason to stop before telling
        try:
            with anyio.CancelScope(shield=True), anyio.move_on_after(FINISH_SECONDS):
                if await self._store.plan_ready(job_id, plan):
                    log.info("research %s: the plan awaits approval", job_id)
                    if billed is not None and await self._store.add_usage(billed):
                        self._costs.logged(billed)
                    await publish(self._store, "plan", job_id)
        finally:
            self.finishing.discard(job_id)

    async def _start_lost(self, job_id: str) -> None:
        if await self._store.finish_job(job_id, START_UNKNOWN, error=CUT_SHORT):
            log.warning("research %s: the start of its approved run was cut short", job_id)
            await publish(self._store, "finished", job_id)

    async def _follow_stream(self, job_id: str, upstream: str, state: _Progress) -> str:
        """Returns 'completed', 'ended_after_events' (cut after progress) or 'failed'."""
        saw_events = False
        try:
            async for update in self._gateway.stream(
                upstream,
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

    async def _fetch(self, upstream_id: str) -> Answer | None:
        """The interaction as it is now, in a few tries; None when Gemini could not be read."""
        for attempt in range(4):
            try:
                return await self._gateway.get(
                    upstream_id, timeout=min(30.0, self._settings.request_timeout_seconds), with_images=True
                )
            except errors.UpstreamError as exc:
                log.warning("fetching %s failed (%s), attempt %d", upstream_id, exc, attempt + 1)
                await anyio.sleep(min(10.0, self._settings.poll_seconds * 2**attempt))
        return None

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
            await publish(self._store, "progress", job_id)

    async def _time_out(self, job_id: str, upstream: str) -> None:
        minutes = self._settings.research_deadline_seconds / 60
        log.warning("research %s passed its deadline; cancelling upstream", job_id)
        try:
            await self._gateway.cancel(upstream)
        except errors.GeminiInteractionsError as exc:
            log.warning("cancelling %s upstream failed: %s", job_id, exc)
        if await self._store.finish_job(
            job_id,
            "timed_out",
            error=f"Gave up after {minutes:g} minutes without a result; the run was cancelled upstream. "
            "Try a narrower topic.",
        ):
            log.info("research %s finished: timed_out", job_id)
            await publish(self._store, "finished", job_id)

    async def _billed(
        self, job_id: str, answer: Answer, upstream_id: str | None = None
    ) -> UsageRecord | None:
        """A billed call of the job (the tokens its agent's model used): its run (``upstream_id``: a planned
        job's run, billed apart from its plan), recorded with the job's end, or its planning turn."""
        if answer.usage is None:
            return None
        job = await self._store.get_job(job_id)
        if job is None:
            return None
        return self._costs.record_of(
            "research", upstream_id or job_id, answer.agent or job.agent, answer.usage, job.origin
        )

    async def finalize(
        self,
        job_id: str,
        *,
        answer: Answer | None = None,
        fallback_status: str | None = None,
        upstream_id: str | None = None,
    ) -> bool:
        """Fetch the final interaction once (``upstream_id``: a planned job's run), save report and images, mark
        the job terminal. True when done."""
        if answer is None or answer.status not in TERMINAL_STATUSES:
            answer = await self._fetch(upstream_id or job_id) or answer
        if answer is None:
            if fallback_status is None:
                return False
            answer = Answer(interaction_id=job_id, status=fallback_status)
        status = answer.status
        if status not in TERMINAL_STATUSES:
            if fallback_status is None:
                return False
            status = fallback_status
        saved = await anyio.to_thread.run_sync(self._reports.save, job_id, answer)
        billed = await self._billed(job_id, answer, upstream_id)
        error = None
        if status != "completed":
            error = answer.error or STATUS_HELP.get(answer.status) or STATUS_HELP.get(status)
        # Once the job is marked finished its lease is no longer renewed: the watcher must not be cancelled
        # between that write and the 'finished' event, or listeners would never hear of it.
        self.finishing.add(job_id)
        try:
            with anyio.CancelScope(shield=True), anyio.move_on_after(FINISH_SECONDS):
                if await self._store.finish_job(
                    job_id,
                    status,
                    report_path=saved.report_path,
                    image_paths=saved.image_paths,
                    error=error,
                    report=saved.report,
                    images=answer.images,
                    usage=billed,
                ):
                    log.info("research %s finished: %s", job_id, status)
                    if billed is not None:
                        self._costs.logged(billed)
                    await publish(self._store, "finished", job_id)
        finally:
            self.finishing.discard(job_id)
        return True
