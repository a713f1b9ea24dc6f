"""The App Home tab: a user's recent research runs and a short how-to, published with views.publish."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .authorization import viewer
from .render import home_view, thread_link
from .replicas import our_turn
from .tasks import TaskSupervisor
from .usage import month_label, person_total

if TYPE_CHECKING:
    from server.core import Core, ResearchJob

log = logging.getLogger(__name__)

HOME_RUNS = 10

WorkspaceUrl = Callable[[], Awaitable[str | None]]


async def job_links(workspace_url: WorkspaceUrl, jobs: list[ResearchJob]) -> dict[str, str | None]:
    """A link to the thread of each job (asking who the workspace is only when there are jobs)."""
    url = await workspace_url() if jobs else None
    return {j.interaction_id: thread_link(url, j.origin.channel_id, j.origin.thread_ts) for j in jobs}


class HomeTab:
    def __init__(
        self, core: Core, client: AsyncWebClient, tasks: TaskSupervisor, *, workspace_url: WorkspaceUrl
    ) -> None:
        self._core = core
        self._client = client
        self._tasks = tasks
        self._workspace_url = workspace_url

    def refresh(self, team_id: str, user_id: str) -> None:
        """Republish in the background (the user opened the tab)."""
        self._tasks.spawn(self.publish(team_id, user_id), name=f"home tab {user_id}")

    def job_changed(self, team_id: str, user_id: str, job_id: str, kind: str) -> None:
        """Republish after a run started or finished: once, by whichever replica hears of it first."""
        self._tasks.spawn(
            self._once(f"slack-home:{job_id}:{kind}", team_id, user_id), name=f"home tab {user_id}"
        )

    async def _once(self, key: str, team_id: str, user_id: str) -> None:
        if await our_turn(self._core, key):
            await self.publish(team_id, user_id)

    async def publish(self, team_id: str, user_id: str) -> None:
        who = viewer(team_id, user_id)
        jobs = await self._core.research.list(viewer=who, limit=HOME_RUNS)
        spend = await person_total(self._core, team_id=team_id, owner=who.owner)
        view = home_view(
            jobs, await job_links(self._workspace_url, jobs), spend=spend, month=month_label(self._core)
        )
        try:
            await self._client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            log.warning("publishing the home tab of %s failed: %s", user_id, exc.response.get("error"))
