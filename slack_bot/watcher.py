"""Follow every research job change (from any process) and act on the ones started from Slack."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .delivery import ReportDelivery
from .destinations import slack_destination
from .home import HomeTab
from .progress import StartedMessages
from .tasks import TaskSupervisor

if TYPE_CHECKING:
    from server.core import Core, JobEvent

log = logging.getLogger(__name__)


class JobEvents:
    def __init__(
        self,
        core: Core,
        tasks: TaskSupervisor,
        started_messages: StartedMessages,
        deliveries: ReportDelivery,
        home: HomeTab,
    ) -> None:
        self._core = core
        self._tasks = tasks
        self._started = started_messages
        self._deliveries = deliveries
        self._home = home

    async def watch(self) -> None:
        """Runs for the bot's lifetime (supervised: restarted if the subscription breaks)."""
        async with self._core.research.events() as events:
            log.info("following research events")
            # Anything that finished while we were not listening is picked up by the delivery sweep.
            async for event in events:
                self.handle(event)

    def handle(self, event: JobEvent) -> None:
        job = event.job
        origin = job.origin
        if origin.source != "slack":
            return
        if event.kind == "progress" and not job.terminal:
            self._started.progressed(job.interaction_id)
            return
        if event.kind in ("plan", "approved") and not job.terminal:  # the plan to approve, or its run started
            self._tasks.spawn(
                self._started.refresh(job.interaction_id), name=f"plan edit {job.interaction_id}"
            )
        if event.kind == "finished" or job.terminal:
            destination = slack_destination(origin)
            if destination:
                self._deliveries.schedule(job.interaction_id, destination)
            else:
                self._tasks.spawn(
                    self._started.refresh(job.interaction_id), name=f"final edit {job.interaction_id}"
                )
        if event.kind in ("started", "plan", "approved", "finished") and origin.team_id and origin.slack_user:
            self._home.job_changed(origin.team_id, origin.slack_user, job.interaction_id, event.kind)
