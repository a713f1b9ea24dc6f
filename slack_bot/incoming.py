"""What a person typed, from the text Slack sends: every listener passes text through :meth:`IncomingText.readable`
before the core sees it.

Slack sends ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and ``&gt;`` in message and command text, and what a
person picked from the composer as control sequences: ``<@U…>`` for a person, ``<#C…|name>`` for a channel,
``<!here>`` and ``<!subteam^S…|@handle>`` for groups, ``<https://…|label>`` for a link
(docs.slack.dev/messaging/formatting-message-text, "Escaping text" and "Retrieving messages"). Gemini gets the
text as the person saw it: ``a < b``, ``#general``, ``https://…``, ``@Ada Lovelace`` (the display name, from
``users.info``, which needs ``users:read``; ``@user`` where Slack refuses it).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .pacing import RateLimited

log = logging.getLogger(__name__)

NAMES_CACHED = 2_048
NAME_TTL_SECONDS = 3_600.0
REFUSED_TTL_SECONDS = 300.0  # a refusal (missing scope, rate limit) is asked again after this
UNKNOWN_USER = "user"

_SEQUENCE = re.compile(r"<([^<>\n]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_USER = re.compile(r"@([UW][A-Z0-9]+)")


def unescape(text: str) -> str:
    """``&amp;`` ``&lt;`` ``&gt;`` as the characters, in one pass (``&amp;lt;`` stays ``&lt;``)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def _link(target: str, label: str) -> str:
    shown = target.removeprefix("mailto:")
    if not label or label in (target, shown) or target.split("://", 1)[-1] == label:
        return shown
    return f"{label} ({shown})"


def _special(name: str, label: str) -> str:
    """``<!here>``, ``<!subteam^S…|@handle>``, ``<!date^…|fallback>``: as Slack shows them."""
    if label:
        return label if name.startswith(("subteam", "date")) or label.startswith("@") else f"@{label}"
    word = name.split("^", 1)[0]
    return {"subteam": "@group", "date": ""}.get(word, f"@{word}")


class IncomingText:
    """Turns Slack's text into what was typed; display names are cached (bounded, with a TTL)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._names: TTLCache[str, tuple[str, float]] = TTLCache(NAMES_CACHED, NAME_TTL_SECONDS)

    async def readable(self, text: str) -> str:
        users = {
            user.group(1)
            for sequence in _SEQUENCE.finditer(text)
            if (user := _USER.fullmatch(sequence.group(1).partition("|")[0]))
        }
        names = dict(zip(users, await asyncio.gather(*(self.display_name(u) for u in users)), strict=True))
        out: list[str] = []
        last = 0
        for match in _SEQUENCE.finditer(text):
            out.append(unescape(text[last : match.start()]))
            out.append(self._sequence(match.group(1), names))
            last = match.end()
        out.append(unescape(text[last:]))
        return "".join(out)

    @staticmethod
    def _sequence(inner: str, names: dict[str, str | None]) -> str:
        target, _, label = inner.partition("|")
        label = unescape(label)
        if target.startswith("@"):
            return f"@{names.get(target[1:]) or label or UNKNOWN_USER}"
        if target.startswith("#"):
            return f"#{label or 'channel'}"
        if target.startswith("!"):
            return _special(target[1:], label)
        return _link(unescape(target), label)

    async def display_name(self, user_id: str) -> str | None:
        """The name Slack shows for ``user_id``; None when Slack will not say (no ``users:read``, rate limit)."""
        cached = self._names.get(user_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0] or None
        name, ttl = await self._lookup(user_id)
        self._names[user_id] = (name, time.monotonic() + ttl)
        return name or None

    async def _lookup(self, user_id: str) -> tuple[str, float]:
        try:
            response = await self._client.users_info(user=user_id)
        except (SlackApiError, RateLimited) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else "ratelimited"
            log.info("users.info %s refused (%s); showing @%s", user_id, error, UNKNOWN_USER)
            return "", REFUSED_TTL_SECONDS
        except Exception:
            log.warning("users.info %s failed; showing @%s", user_id, UNKNOWN_USER, exc_info=True)
            return "", REFUSED_TTL_SECONDS
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        for candidate in (
            profile.get("display_name"),
            profile.get("real_name"),
            user.get("real_name"),
            user.get("name"),
        ):
            if isinstance(candidate, str) and candidate.strip():
                return candidate.strip(), NAME_TTL_SECONDS
        return "", REFUSED_TTL_SECONDS
