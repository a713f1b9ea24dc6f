"""Who may start Deep Research in Slack (``SLACK_RESEARCH_ALLOWED``): the listed users, the members of the listed
user groups, and anyone in a listed channel. An empty list lets everyone.

A user group's members come from ``usergroups.users.list`` (bot scope ``usergroups:read``) and are remembered
for ``usergroup_cache_seconds``: someone just added to a group may wait that long. A group whose members cannot
be read (scope missing, group deleted) lets nobody in through it, and says why in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

FAILURE_CACHE_SECONDS = 60.0  # a group that could not be read is asked again after this, at most


class ResearchAccess:
    def __init__(self, client: AsyncWebClient, allowed: frozenset[str], *, cache_seconds: float) -> None:
        self._client = client
        self._allowed = allowed
        self._groups = sorted(i for i in allowed if i.startswith("S"))
        self._cache_seconds = cache_seconds
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def restricted(self) -> bool:
        return bool(self._allowed)

    async def allows(self, user_id: str, channel_id: str | None) -> bool:
        if not self._allowed or user_id in self._allowed or (channel_id and channel_id in self._allowed):
            return True
        for group in self._groups:
            if user_id in await self._group_members(group):
                return True
        return False

    async def _group_members(self, group: str) -> frozenset[str]:
        async with self._locks.setdefault(group, asyncio.Lock()):
            cached = self._members.get(group)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            keep = self._cache_seconds
            try:
                response = await self._client.usergroups_users_list(usergroup=group)
                members = frozenset(str(user) for user in response.get("users") or [])
            except SlackApiError as exc:
                error = exc.response.get("error")
                hint = (
                    ": add the usergroups:read bot scope to the Slack app (slack_manifest.yaml has it) and "
                    "reinstall it"
                    if error == "missing_scope"
                    else ""
                )
                log.warning("cannot read the members of user group %s (%s)%s", group, error, hint)
                members, keep = frozenset(), min(keep, FAILURE_CACHE_SECONDS)
            self._members[group] = (time.monotonic() + keep, members)
            return members
