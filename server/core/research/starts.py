"""Starting a Deep Research run so that a paid run is never left untracked.

Gemini offers no way to list our runs: a run it created that we failed to record would be billed and never
watched, and a caller who got no id would start a second one. So a start goes, in order:

1. its intent (owner, prompt, time, where it came from) is written under a provisional key ``start-…``, within
   a deadline; a database that does not answer refuses the start, and nothing is sent to Gemini;
2. Gemini is asked to create the run: one create, never retried;
3. the interaction id is logged the moment it returns, before any database write, for an operator to reconcile;
4. the job is recorded under that id and the intent removed, in one transaction, within a deadline; failing
   that, the run is cancelled upstream and the caller told.

What is left when a start is cut short:

- a crash (or ``kill -9``) anywhere between 1 and 4 leaves the intent. Once it is older than any live start can
  be (``Settings.research_start_window_seconds``; at once when a lone SQLite process starts) it becomes a job with
  status ``start_unknown`` under its key: its owner sees the prompt and the time, and is told to check AI Studio
  usage before starting it again;
- a create without a readable answer (a timeout, a dropped connection) may have started the run all the same:
  the intent becomes ``start_unknown`` at once, and the caller is told so.

A planned job's approved run starts the same way (``start_approved``): its intent is the approval written on
the job, and a crash before its run is recorded leaves the job ``start_unknown`` (``watch.py`` says so with the
same words). The test hooks of ``crash_points.py`` exit at ``before_create``, ``after_create`` and
``before_record`` on both.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Generic, NoReturn, TypeVar

import anyio
import anyio.abc

from .. import errors
from ..domain import START_UNKNOWN, Answer, Origin, ResearchJob, StartIntent
from ..logs import interaction_context
from .bounded_writes import BoundedWrites
from .crash_points import armed_crash_point, crash_here
from .endings import CHECK_USAGE, CUT_SHORT, UNANSWERED
from .events import publish

if TYPE_CHECKING:
    from ..gateway import Gateway
    from ..settings import Settings
    from ..store import Store

log = logging.getLogger("server.core.research")

T = TypeVar("T")

START_KEY_PREFIX = "start-"
SETTLES_PER_WINDOW = 4  # looks for abandoned starts per start window
#: Asks Gemini to create the run (one create, never retried).
Create = Callable[[], Awaitable[Answer]]


@dataclass(frozen=True)
class Steps(Generic[T]):
    """How one kind of start, its intent already written, records its run or settles its intent."""

    key: str  # names the start: its intent's key, or the planned job's id
    create: Create
    record: Callable[[str], Awaitable[T]]  # the run, under the id Gemini gave it
    forget: Callable[[], Awaitable[object]]  # no run was started (or it was cancelled): undo the intent
    unknown: Callable[[str], Awaitable[object]]  # the start becomes start_unknown now, with this error


def new_start_key() -> str:
    return START_KEY_PREFIX + secrets.token_hex(12)


class Starter:
    def __init__(
        self,
        settings: Settings,
        gateway: Gateway,
        store: Store,
        *,
        replica_id: str,
        starting: set[str] | None = None,
    ) -> None:
        self._settings = settings
        self._gateway = gateway
        self._store = store
        self._replica_id = replica_id
        # Planned jobs whose approved run is being started, or whose writes outlived their deadline: nobody
        # watches them (``watch.py`` would take an approval without a run for a start cut short) until settled.
        self._writes = BoundedWrites(set() if starting is None else starting)
        self.starting = self._writes.starting
        self._crash_at = armed_crash_point()

    async def run(
        self, *, lone: bool, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Settle the starts a crash left behind, then look again on a steady beat, until cancelled. Writes that
        outlive their deadline finish in this task group.

        ``lone``: this process alone uses the database (SQLite), so every start found now is a dead one's.
        """
        async with anyio.create_task_group() as tg:
            self._writes.tg = tg
            try:
                await self._settle_logged(everything=lone)
                task_status.started()
                interval = max(0.5, self._settings.research_start_window_seconds / SETTLES_PER_WINDOW)
                while True:
                    await anyio.sleep(interval)
                    await self._settle_logged()
            finally:
                self._writes.tg = None

    async def settle(self, *, everything: bool = False) -> list[ResearchJob]:
        """Turn the intents of starts that were cut short into ``start_unknown`` jobs; return those jobs."""
        before = None if everything else _now() - timedelta(seconds=self._window())
        abandoned = await self._store.abandon_starts(CUT_SHORT, before=before)
        for job in abandoned:
            log.warning(
                "research start %s (%s, begun %s) was cut short before Gemini's answer was recorded: listed as "
                "%s; the run may exist at Gemini",
                job.interaction_id,
                job.origin.source,
                job.created_at.isoformat() if job.created_at else "?",
                START_UNKNOWN,
            )
        return abandoned

    async def start(
        self,
        prompt: str,
        *,
        agent: str,
        origin: Origin,
        destinations: Sequence[str],
        create: Create,
        plan_first: bool = False,
    ) -> ResearchJob:
        """Write the intent, ``create`` the run, record it under Gemini's id: the job as recorded."""
        intent = StartIntent(
            key=new_start_key(),
            prompt=prompt,
            agent=agent,
            origin=origin,
            replica_id=self._replica_id,
            created_at=_now(),
        )

        async def record(run_id: str) -> ResearchJob:
            job = ResearchJob(
                interaction_id=run_id,
                prompt=prompt,
                agent=agent,
                origin=origin,
                status="in_progress",
                created_at=_now(),
                plan_first=plan_first,
            )
            await self._store.record_start(intent.key, job, destinations=destinations)
            return job

        with interaction_context(intent.key):
            await self._write_intent(intent)
        return await self._create_and_record(
            Steps(
                key=intent.key,
                create=create,
                record=record,
                forget=lambda: self._store.drop_start(intent.key),
                unknown=lambda error: self._store.abandon_starts(error, key=intent.key),
            )
        )

    async def start_approved(self, job: ResearchJob, create: Create) -> ResearchJob | None:
        """Start the run of a planned job whose approval was just written (``approved_at`` is the intent: a crash
        before the run is recorded leaves the job ``start_unknown``, see ``watch.py``): the job with its run
        recorded, or None when it was cancelled while the run started (the run is then cancelled too)."""
        job_id = job.interaction_id

        async def record(run_id: str) -> ResearchJob | None:
            if await self._store.set_run(job_id, run_id):
                return await self._store.get_job(job_id) or replace(job, run_id=run_id)
            log.info("research %s was cancelled while its run started; cancelling run %s", job_id, run_id)
            try:
                await self._cancel_upstream(run_id)
            except errors.GeminiInteractionsError as exc:
                log.warning("could not cancel run %s upstream: %s", run_id, exc)
            return None

        async def forget() -> None:
            if await self._store.reopen_plan(job_id):  # no run: the plan awaits the user again
                await publish(self._store, "plan", job_id)

        async def unknown(error: str) -> None:
            if await self._store.finish_job(job_id, START_UNKNOWN, error=error):
                await publish(self._store, "finished", job_id)

        self._writes.hold(job_id)
        try:
            return await self._create_and_record(
                Steps(key=job_id, create=create, record=record, forget=forget, unknown=unknown)
            )
        finally:
            self._writes.release(job_id)

    async def _create_and_record(self, steps: Steps[T]) -> T:
        """The one path from a written intent to a recorded run, with the test crash points on it."""
        with interaction_context(steps.key):
            crash_here(self._crash_at, "before_create", steps.key)
            try:
                created = await steps.create()
            except errors.UpstreamError as exc:
                if exc.status_code is None:  # no answer we could read: the run may exist
                    await self._unanswered(steps, exc)
                await self._forget(steps)
                raise
            except errors.GeminiInteractionsError:
                await self._forget(steps)
                raise
            crash_here(self._crash_at, "after_create", created.interaction_id)
        run_id = created.interaction_id
        with interaction_context(run_id):
            log.info("research start %s: Gemini started run %s; recording it", steps.key, run_id)
            crash_here(self._crash_at, "before_record", run_id)
            try:
                job = await self._writes.within(
                    self._settings.research_record_seconds,
                    lambda: steps.record(run_id),
                    what=f"recording research {run_id}",
                    key=steps.key,
                )
            except Exception as exc:
                await self._cancel_unrecorded(steps, run_id, exc)
        return job

    # -- the ways a start goes wrong ----------------------------------------------------------------------------

    async def _write_intent(self, intent: StartIntent) -> None:
        seconds = self._settings.research_record_seconds
        try:
            await self._writes.within(
                seconds,
                lambda: self._store.add_start(intent),
                what=f"recording research start {intent.key}",
                late=lambda _: self._store.drop_start(intent.key),
            )
        except Exception as exc:
            why = f"did not answer within {seconds:g} s" if isinstance(exc, TimeoutError) else "failed"
            log.error("research start %s refused: the job database %s", intent.key, why, exc_info=_trace(exc))
            raise errors.NotReady(
                f"The research run was not started: our job database {why}, and a run is started only once it "
                "can be tracked. Nothing was sent to Gemini. Try again in a moment."
            ) from None

    async def _unanswered(self, steps: Steps[T], exc: errors.UpstreamError) -> NoReturn:
        try:
            await self._writes.within(
                self._settings.research_record_seconds,
                lambda: steps.unknown(UNANSWERED),
                what=f"marking research start {steps.key} {START_UNKNOWN}",
                key=steps.key,
            )
        except Exception:  # the intent stays; the next settle (or watcher) turns it
            log.warning("marking research start %s %s failed", steps.key, START_UNKNOWN, exc_info=True)
        log.warning("research start %s got no readable answer (%s): %s", steps.key, exc, START_UNKNOWN)
        raise errors.StartUnknown(
            f"{exc} The research run may have started at Gemini all the same, so it is listed as "
            f"{START_UNKNOWN} ({steps.key}). {CHECK_USAGE}",
            job_id=steps.key,
        ) from None

    async def _cancel_unrecorded(self, steps: Steps[T], run_id: str, exc: Exception) -> NoReturn:
        seconds = self._settings.research_record_seconds
        why = f"did not answer within {seconds:g} s" if isinstance(exc, TimeoutError) else "failed"
        log.error(
            "research %s could not be recorded (the job database %s); cancelling it upstream",
            run_id,
            why,
            exc_info=_trace(exc),
        )
        try:
            await self._cancel_upstream(run_id)
        except errors.GeminiInteractionsError as cancel_exc:
            log.error("could not cancel %s upstream either (%s)", run_id, cancel_exc)
            message = (
                f"Gemini started research run {run_id}, but it could not be recorded (our job database {why}) "
                f"and cancelling it failed too: it may run, and be billed, untracked. It is listed as "
                f"{START_UNKNOWN} ({steps.key}). {CHECK_USAGE}"
            )
            try:
                await self._writes.within(
                    seconds,
                    lambda: steps.unknown(message),
                    what=f"marking {steps.key} unknown",
                    key=steps.key,
                )
            except Exception:  # left as it is, the next settle (or watcher) turns it
                log.warning("marking research start %s %s failed", steps.key, START_UNKNOWN)
            raise errors.StartUnknown(message, job_id=steps.key) from None
        log.warning("research %s cancelled upstream: it could not be recorded", run_id)
        await self._forget(steps)
        raise errors.GeminiInteractionsError(
            f"The research run could not be recorded (our job database {why}), so it was cancelled at Gemini "
            "before it cost anything more. Try again in a moment."
        ) from None

    async def _cancel_upstream(self, run_id: str) -> None:
        with anyio.CancelScope(shield=True):
            await self._gateway.cancel(run_id, timeout=self._settings.research_create_timeout_seconds)

    async def _forget(self, steps: Steps[T]) -> None:
        """Undo the intent of a start that is settled (Gemini refused it, or it was cancelled there)."""
        try:
            await self._writes.within(
                self._settings.research_record_seconds,
                steps.forget,
                what=f"forgetting research start {steps.key}",
                key=steps.key,
            )
        except Exception:  # left behind, it becomes start_unknown: wrong, but never silent
            log.warning("forgetting research start %s failed", steps.key, exc_info=True)

    # -- helpers ----------------------------------------------------------------------------------------------

    async def _settle_logged(self, *, everything: bool = False) -> None:
        try:
            await self.settle(everything=everything)
        except Exception:
            log.exception("looking for research starts that were cut short failed; looking again later")

    def _window(self) -> float:
        return self._settings.research_start_window_seconds


def _now() -> datetime:
    return datetime.now(UTC)


def _trace(exc: Exception) -> Exception | None:
    """A traceback is worth logging for a database error, not for a deadline that passed."""
    return None if isinstance(exc, TimeoutError) else exc
