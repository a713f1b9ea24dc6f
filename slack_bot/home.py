"""The App Home tab: a user's recent research runs and a short how-to, published with views.publish."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from .render import home_view, thread_link

if TYPE_CHECKING:
    from server.core.domain import ResearchJob

    from .bot import SlackBot

log = logging.getLogger(__name__)

HOME_RUNS = 10


async def job_links(bot: SlackBot, jobs: list[ResearchJob]) -> dict[str, str | None]:
    url = await bot.workspace_url() if jobs else None
    return {j.interaction_id: thread_link(url, j.origin.channel_id, j.origin.thread_ts) for j in jobs}


class HomeTab:
    def __init__(self, bot: SlackBot) -> None:
        self._bot = bot

    def refresh(self, team_id: str, user_id: str) -> None:
        """Republish in the background (the user opened the tab)."""
        self._bot.spawn(self.publish(team_id, user_id), name=f"home tab {user_id}")

    def job_changed(self, team_id: str, user_id: str, job_id: str, kind: str) -> None:
        """Republish after a run started or finished: once, by whichever replica hears of it first."""
        self._bot.spawn(
            self._once(f"slack-home:{job_id}:{kind}", team_id, user_id), name=f"home tab {user_id}"
        )

    async def _once(self, key: str, team_id: str, user_id: str) -> None:
        if await self._bot.our_turn(key):
            await self.publish(team_id, user_id)

    async def publish(self, team_id: str, user_id: str) -> None:
        jobs = await self._bot.core.research.list(viewer=self._bot.viewer(team_id, user_id), limit=HOME_RUNS)
        view = home_view(jobs, await job_links(self._bot, jobs))
        try:
            await self._bot.client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            log.warning("publishing the home tab of %s failed: %s", user_id, exc.response.get("error"))
