"""Receiving Gemini's webhook deliveries: verify, dedupe, mark the run, wake its watcher wherever it is.

Verification is the ``standardwebhooks`` library's (Standard Webhooks HMAC-SHA256; a timestamp more than five
minutes away from now is refused, so a captured delivery cannot be replayed later). Every secret of
``GEMINI_INTERACTIONS_WEBHOOK_SECRET`` is tried: two are valid at once during a rotation. A verified delivery is
recorded once per ``webhook-id`` in the store (across replicas), then announced (``research/pushes.py``).

Replies: 401 for a delivery that does not verify (nothing is recorded), 503 while the store is not open (Gemini
retries), and 200 for everything verified, also for runs we do not know (a project-level webhook reports every
deployment's runs) and for duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..research.pushes import announce
from .payload import PayloadError, parse_event

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store import Store

log = logging.getLogger("server.core.webhooks")

MAX_WEBHOOK_ID_CHARS = 200


@dataclass(frozen=True, slots=True)
class WebhookReply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


class WebhookReceiver:
    def __init__(self, settings: Settings, store: Callable[[], Store | None]) -> None:
        """``store``: the open store, or None while it is still opening."""
        from standardwebhooks.webhooks import Webhook

        self._verifiers = [Webhook(secret) for secret in settings.webhook_secrets()]
        self._store = store

    async def receive(self, headers: Mapping[str, str], body: bytes) -> WebhookReply:
        problem = self._verify(headers, body)
        if problem is not None:
            log.warning("refused a webhook delivery: %s", problem)
            return WebhookReply(401, {"error": problem})
        webhook_id = headers.get("webhook-id", "")
        if len(webhook_id) > MAX_WEBHOOK_ID_CHARS:
            return WebhookReply(400, {"error": "webhook-id is too long"})
        try:
            event = parse_event(body)
        except PayloadError as exc:  # signed by Gemini, so a retry would not help: take it, say so in the log
            log.warning("ignored webhook delivery %s: %s", webhook_id, exc)
            return WebhookReply(200, {"ok": True, "outcome": "ignored"})
        store = self._store()
        if store is None:
            return WebhookReply(503, {"error": "the job store is still opening; deliver again later"})
        received_at = datetime.now(UTC)
        outcome, job_id = await store.record_webhook(
            webhook_id, event.type, event.interaction_id, received_at
        )
        if outcome == "marked" and job_id is not None:
            await announce(store, job_id, received_at)
        log.info("webhook %s (%s %s): %s", webhook_id, event.type, event.interaction_id or "-", outcome)
        return WebhookReply(200, {"ok": True, "outcome": outcome})

    def _verify(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """None when one of our secrets signed this delivery recently; else what is wrong with it."""
        from standardwebhooks.webhooks import WebhookVerificationError

        wanted = {
            name: headers.get(name, "") for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        }
        if not all(wanted.values()):
            return "missing webhook-id, webhook-timestamp or webhook-signature header"
        for verifier in self._verifiers:
            try:
                verifier.verify(body, wanted, json_parse=False)
                return None
            except WebhookVerificationError as exc:
                if "timestamp" in str(exc).lower() or "signature headers" in str(exc).lower():
                    return "webhook-timestamp is not within five minutes of now (stale or replayed)"
        return "no signature matches a configured secret"
