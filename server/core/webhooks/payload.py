"""The one parser of what Gemini's webhooks send, as documented at ai.google.dev/gemini-api/docs/webhooks.

Deliveries follow Standard Webhooks (standardwebhooks.com): headers ``webhook-id`` (the same on every retry of
one delivery), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``id.timestamp.body``, several space-separated during a rotation). The body is a thin JSON event:

    {"type": "interaction.completed", "version": "v1", "timestamp": "2026-05-04T12:00:00Z",
     "data": {"id": "v1_…"}}

``data.id`` names the interaction for ``interaction.*`` events (the batch job or video operation for the
others); anything more is fetched with a GET. Delivery is at least once, retried for up to 24 hours, in no
guaranteed order; any 2xx acknowledges it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: The events a run of ours can produce, as ``webhook register`` subscribes to them (the installed SDK's
#: ``WebhookSubscribedEvent`` list has no ``interaction.cancelled``: a cancel is ours, we know of it already).
INTERACTION_EVENTS: tuple[str, ...] = (
    "interaction.completed",
    "interaction.failed",
    "interaction.requires_action",
)


class PayloadError(ValueError):
    """The body is not the documented event shape."""


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    type: str
    interaction_id: str | None  # set for interaction.* events only
    version: str | None = None


def parse_event(body: bytes) -> WebhookEvent:
    """The event a verified delivery carries; ``PayloadError`` when it is not the documented shape."""
    try:
        data: Any = json.loads(body)
    except ValueError as exc:
        raise PayloadError("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise PayloadError("the event has no 'type'")
    version = data.get("version") if isinstance(data.get("version"), str) else None
    if not kind.startswith("interaction."):
        return WebhookEvent(kind, None, version)
    inner = data.get("data")
    interaction_id = inner.get("id") if isinstance(inner, dict) else None
    if not isinstance(interaction_id, str) or not interaction_id or len(interaction_id) > 200:
        raise PayloadError(f"the {kind} event names no interaction ('data.id')")
    return WebhookEvent(kind, interaction_id, version)
