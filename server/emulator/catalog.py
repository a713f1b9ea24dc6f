"""What the emulated service knows, taken from the installed google-genai (generated from Google's API
description) rather than from our notes: model and agent ids, request fields, thinking levels, mime types.

Plus what the SDK cannot say: which models draw images (an explicit list, not the substring "image"), which ids
Google routes elsewhere or has shut down (each with Google's announcement). ``EmulatorConfig.extra_models`` /
``extra_agents`` add ids a test needs. The SDK is imported lazily: ``--emulator`` starts without it.
"""

from __future__ import annotations

import functools
from typing import Any, get_args

# Models that answer with images (the SDK's Model list describes them as image models).
IMAGE_MODELS: frozenset[str] = frozenset(
    {
        "gemini-2.5-flash-image",
        "gemini-3.1-flash-image",
        "gemini-3.1-flash-lite-image",
        "gemini-3-pro-image",
        "nano-banana-pro-preview",
        "gemini-nano-banana-2.1",
    }
)
# Deprecated ids Google serves with another model, and reports that model in the answer.
# https://ai.google.dev/gemini-api/docs/models/gemini-3.5-flash: "Deprecated: gemini-3.5-flash (automatically
# routed to gemini-3.6-flash)".
ROUTED: dict[str, str] = {"gemini-3.5-flash": "gemini-3.6-flash"}
# Ids the SDK still lists that Google has turned off: they answer 404 like unknown ones.
# deep-research-pro-preview-12-2025: shut down 2026-10-23 (https://ai.google.dev/gemini-api/docs/changelog,
# 2026-10-08 entry).
SHUT_DOWN: frozenset[str] = frozenset({"deep-research-pro-preview-12-2025"})


def _literals(union: Any) -> frozenset[str]:
    """The strings of ``Union[Literal[...], UnrecognizedStr]`` (the SDK's open enums)."""
    found: set[str] = set()
    for member in get_args(union):
        found.update(a for a in get_args(member) if isinstance(a, str))
    return frozenset(found)


@functools.cache
def sdk_models() -> frozenset[str]:
    from google.genai._gaos.types.interactions.model import Model

    return _literals(Model)


@functools.cache
def sdk_agents() -> frozenset[str]:
    from google.genai._gaos.types.interactions.agentoption import AgentOption

    return _literals(AgentOption)


@functools.cache
def thinking_levels() -> frozenset[str]:
    from google.genai._gaos.types.interactions.thinkinglevel import ThinkingLevel

    return _literals(ThinkingLevel)


@functools.cache
def mime_types() -> dict[str, frozenset[str]]:
    """Content type → the mime types the API lists for it."""
    from google.genai._gaos.types.interactions import (
        audiocontent,
        documentcontent,
        imagecontent,
        videocontent,
    )

    return {
        "image": _literals(imagecontent.ImageContentMimeType),
        "audio": _literals(audiocontent.AudioContentMimeType),
        "document": _literals(documentcontent.DocumentContentMimeType),
        "video": _literals(videocontent.VideoContentMimeType),
    }


@functools.cache
def request_fields() -> frozenset[str]:
    """Every top-level field of a create request (model and agent forms)."""
    from google.genai._gaos.types.interactions import CreateAgentInteraction, CreateModelInteraction

    return frozenset(CreateModelInteraction.model_fields) | frozenset(CreateAgentInteraction.model_fields)


@functools.cache
def webhook_events() -> frozenset[str]:
    """The events a webhook may subscribe to (``WebhookSubscribedEvent``)."""
    from google.genai._gaos.types.webhooks.webhook import WebhookSubscribedEvent

    return _literals(WebhookSubscribedEvent)


@functools.cache
def webhook_fields() -> frozenset[str]:
    """The fields a create (``WebhookInput``) or update (``WebhookUpdate``) body may carry."""
    from google.genai._gaos.types.webhooks.webhook import WebhookInput
    from google.genai._gaos.types.webhooks.webhookupdate import WebhookUpdate

    return frozenset(WebhookInput.model_fields) | frozenset(WebhookUpdate.model_fields)


def known_model(model: str, extra: list[str] | tuple[str, ...] = ()) -> bool:
    return (model in sdk_models() or model in extra) and model not in SHUT_DOWN


def known_agent(agent: str, extra: list[str] | tuple[str, ...] = ()) -> bool:
    return (agent in sdk_agents() or agent in extra) and agent not in SHUT_DOWN


def served_model(model: str) -> str:
    """The model that really answers a request for ``model``."""
    return ROUTED.get(model, model)


def warm() -> None:
    """Import the SDK's lists now (the first request should not pay for it)."""
    sdk_models(), sdk_agents(), thinking_levels(), mime_types(), request_fields()
    webhook_events(), webhook_fields()
