"""Slack's rate limits, as Slack applies them: when it answers 429 with ``Retry-After``, wait that long before the
next call it limits, then send the same call again (a 429 means nothing was done, so nothing is duplicated).

Slack limits ``chat.postMessage`` to about one message per second per channel, and every other method per
workspace by its tier (docs.slack.dev/apis/web-api/rate-limits); ``Retry-After`` can be tens of seconds. So a 429
holds one channel (``chat.postMessage``) or one method (everything else) for the bot's clients together: calls
to it wait out the hold, instead of each being sent into the same wall.

The bot's main client waits up to ``patience`` seconds in all; the report-delivery client has no patience (a
delivery attempt must end before its claim does): it raises :class:`RateLimited` without sending, and the
delivery is retried after ``Retry-After``. Calls whose result is a nicety (the loading status, a display name)
never wait.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

log = logging.getLogger(__name__)

PER_CHANNEL = frozenset({"chat.postMessage", "chat.postEphemeral"})
NICETIES = frozenset({"assistant.threads.setStatus", "users.info"})
DEFAULT_RETRY_AFTER_SECONDS = 1.0  # a 429 without Retry-After (Slack always sends one; a proxy may not)
MAIN_PATIENCE_SECONDS = 300.0


class RateLimited(Exception):
    """Slack asked us to wait before this call; it was not sent."""

    def __init__(self, method: str, retry_after: float) -> None:
        super().__init__(f"Slack asked to wait {retry_after:.0f} s before {method} again")
        self.method = method
        self.retry_after = retry_after


def retry_after(exc: SlackApiError) -> float:
    try:
        return max(0.0, float(exc.response.headers.get("Retry-After", DEFAULT_RETRY_AFTER_SECONDS)))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_SECONDS


class SlackPacing:
    """When each channel or method may be called again, learned from Slack's 429s; shared by the bot's clients."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    @staticmethod
    def key(method: str, args: dict[str, Any]) -> str:
        channel = args.get("channel") or args.get("channel_id")
        return f"{method}:{channel}" if method in PER_CHANNEL and channel else method

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may be called."""
        until = self._until.get(key)
        if until is None:
            return 0.0
        remaining = until - time.monotonic()
        if remaining <= 0:
            self._until.pop(key, None)
            return 0.0
        return remaining

    def hold(self, key: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        self._until[key] = max(until, self._until.get(key, 0.0))


def _args(kwargs: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in ("params", "json", "data"):
        value = kwargs.get(part)
        if isinstance(value, dict):
            found.update(value)
    return found


class PacedWebClient(AsyncWebClient):
    """slack_sdk's AsyncWebClient that waits out Slack's 429s as described above."""

    def __init__(self, *, pacing: SlackPacing, patience: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pacing = pacing
        self.patience = patience

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        key = self.pacing.key(api_method, _args(kwargs))
        patience = 0.0 if api_method in NICETIES else self.patience
        deadline = time.monotonic() + patience
        while True:
            wait = self.pacing.wait(key)
            if wait > 0:
                if time.monotonic() + wait > deadline:
                    raise RateLimited(api_method, math.ceil(wait))
                await asyncio.sleep(wait)
            try:
                return await super().api_call(api_method, **kwargs)
            except SlackApiError as exc:
                if exc.response.status_code != 429:
                    raise
                seconds = retry_after(exc)
                self.pacing.hold(key, seconds)
                log.info("Slack rate-limited %s: waiting %.0f s", key, seconds)
                if time.monotonic() + seconds > deadline:
                    raise
