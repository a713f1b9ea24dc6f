"""Suggested prompts in the bot's Messages tab (``assistant.threads.setSuggestedPrompts``, sent without a
``thread_ts`` for the agent view, where a ``thread_ts`` makes it fail silently), shown when a person opens it.

``SLACK_SUGGESTED_PROMPTS`` replaces the defaults: a JSON list of up to four ``{"title": …, "message": …}``, or
``off``. The defaults are plain questions: none of them starts a (paid) Deep Research run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from server.core import ConfigurationError

log = logging.getLogger(__name__)

SUGGESTED_PROMPTS_ENV = "SLACK_SUGGESTED_PROMPTS"
MAX_PROMPTS = (
    4  # setSuggestedPrompts: "prompts: Each prompt should be supplied with its title and message" ≤ 4
)
TITLE = "Try asking Gemini"
DEFAULT_PROMPTS: tuple[dict[str, str], ...] = (
    {"title": "Explain a concept", "message": "Explain how public-key cryptography works, in plain words."},
    {"title": "Summarise a file", "message": "Summarise the file I attach next in five bullet points."},
    {
        "title": "Draft a message",
        "message": "Help me write a short, friendly note announcing a team offsite.",
    },
    {
        "title": "What can you do?",
        "message": "What can you help me with here, and how do I start a research run?",
    },
)


def prompts_from_env(env: Mapping[str, str]) -> tuple[dict[str, str], ...]:
    raw = env.get(SUGGESTED_PROMPTS_ENV, "").strip()
    if not raw:
        return DEFAULT_PROMPTS
    if raw.lower() in ("off", "none", "false", "0", "[]"):
        return ()
    problem = (
        f'{SUGGESTED_PROMPTS_ENV} must be a JSON list of up to {MAX_PROMPTS} objects with a "title" and a '
        '"message" (strings), or off; for example [{"title": "Explain", "message": "Explain TLS"}].'
    )
    try:
        value: Any = json.loads(raw)
    except ValueError:
        raise ConfigurationError(problem) from None
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_PROMPTS:
        raise ConfigurationError(problem)
    prompts = []
    for item in value:
        if not isinstance(item, dict):
            raise ConfigurationError(problem)
        title, message = item.get("title"), item.get("message")
        if (
            not isinstance(title, str)
            or not isinstance(message, str)
            or not title.strip()
            or not message.strip()
        ):
            raise ConfigurationError(problem)
        prompts.append({"title": title.strip(), "message": message.strip()})
    return tuple(prompts)


async def suggest(client: AsyncWebClient, channel_id: str, prompts: tuple[dict[str, str], ...]) -> None:
    """Show ``prompts`` in the Messages tab whose DM channel is ``channel_id``; harmless where unsupported."""
    if not prompts or not channel_id:
        return
    try:
        await client.assistant_threads_setSuggestedPrompts(
            channel_id=channel_id, title=TITLE, prompts=[dict(p) for p in prompts]
        )
    except SlackApiError as exc:
        log.info("suggested prompts unavailable here: %s", exc.response.get("error"))
