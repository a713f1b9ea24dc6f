"""The "research started" message of each run, edited as the run goes (at a modest rate) and when it ends.

Every edit reads the job afresh from the store under a per-job lock, so edits never go backwards: whichever
edit runs last shows the latest state. Progress edits are throttled to one per ``progress_seconds`` per job
(``chat.update`` is Tier 3), across replicas: every replica hears every progress event, and only the first to
record a turn in the store (one per ``progress_seconds`` window of the clock) edits. While Slack makes an edit
wait (a 429), later progress coalesces into one edit after it. State changes (started, finished) are edited at
once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .render import research_message
from .replicas import our_turn
from .tasks import TaskSupervisor

if TYPE_CHECKING:
    from server.core import Core

log = logging.getLogger(__name__)

Shown = tuple[str, str | None]  # what an edit showed of a job: its status and progress


class StartedMessages:
    def __init__(
        self, core: Core, client: AsyncWebClient, tasks: TaskSupervisor, *, progress_seconds: float
    ) -> None:
        self._core = core
        self._client = client
        self._tasks = tasks
        self._progress_seconds = progress_seconds
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_edit: dict[str, float] = {}
        self._scheduled: set[str] = set()  # jobs with a progress edit waiting or in flight
        self._dirty: set[str] = set()  # ... and progress since that edit read the job

    def progressed(self, job_id: str) -> None:
        """A progress event: edit now if the last edit is old enough, else once when it is.

        Events coalesce: while an edit of the job is waiting or in flight (Slack may hold it for a while with a
        429), later events only make sure that one more edit follows it; they never queue edits of their own.
        """
        if job_id in self._scheduled:
            self._dirty.add(job_id)
            return
        self._scheduled.add(job_id)
        self._tasks.spawn(self._edit_progress(job_id), name=f"progress edit {job_id}")

    async def _edit_progress(self, job_id: str) -> None:
        try:
            while True:
                wait = self._last_edit.get(job_id, -1e9) + self._progress_seconds - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._dirty.discard(job_id)  # the edit below reads the job after every event so far
                window = int(time.time() // max(0.1, self._progress_seconds))
                if await our_turn(self._core, f"slack-progress-edit:{job_id}:{window}"):
                    shown = await self._refresh(job_id)
                else:
                    self._last_edit[job_id] = time.monotonic()  # another replica edited in this window
                    shown = await self._state(job_id)  # ... and showed about this
                # Events meanwhile call for one more edit, unless they brought nothing new (an event heard twice).
                if job_id not in self._dirty or await self._state(job_id) == shown:
                    return
        finally:
            self._scheduled.discard(job_id)
            self._dirty.discard(job_id)

    async def _state(self, job_id: str) -> Shown | None:
        job = await self._core.store.get_job(job_id)
        return (job.status, job.progress) if job else None

    async def refresh(self, job_id: str) -> None:
        """Edit the run's started message to its current state (best effort: a failed edit is only logged)."""
        await self._refresh(job_id)

    async def _refresh(self, job_id: str) -> Shown | None:
        lock = self._locks.setdefault(job_id, asyncio.Lock())
        async with lock:
            job = await self._core.store.get_job(job_id)
            origin = job.origin if job else None
            if job is None or origin is None or not (origin.channel_id and origin.message_ts):
                return None
            self._last_edit[job_id] = time.monotonic()
            try:
                await self._client.chat_update(
                    channel=origin.channel_id, ts=origin.message_ts, **research_message(job)
                )
            except SlackApiError as exc:
                log.warning("editing the started message of %s failed: %s", job_id, exc.response.get("error"))
            except Exception:
                log.warning("editing the started message of %s failed", job_id, exc_info=True)
            self._last_edit[job_id] = time.monotonic()  # Slack may have made the edit wait: count from now
            if job.terminal:
                self._last_edit.pop(job_id, None)
        if job.terminal and not lock.locked():
            self._locks.pop(job_id, None)
        return job.status, job.progress
