"""Gemini's webhooks: receiving deliveries (``receiver.py``, over HTTP with ``http.py``), the one parser of
their documented shape (``payload.py``), and the operator's register / rotate / list (``admin.py``)."""

from .admin import WebhookAdmin
from .http import MAX_WEBHOOK_BODY_BYTES, WEBHOOK_PATH, webhook_endpoint
from .payload import INTERACTION_EVENTS, WebhookEvent, parse_event
from .receiver import WebhookReceiver, WebhookReply

__all__ = [
    "INTERACTION_EVENTS",
    "MAX_WEBHOOK_BODY_BYTES",
    "WEBHOOK_PATH",
    "WebhookAdmin",
    "WebhookEvent",
    "WebhookReceiver",
    "WebhookReply",
    "parse_event",
    "webhook_endpoint",
]
