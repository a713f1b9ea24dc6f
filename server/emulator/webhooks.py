"""Gemini's project-level webhooks, emulated: the WebhookService resource as the installed SDK calls it
(``client.webhooks.create / list / get / update / delete / ping / rotate_signing_secret``, REST
``/{version}/webhooks[/{id}[:ping|:rotateSigningSecret]]``), and signed deliveries of interaction events to the
registered URIs.

As documented at ai.google.dev/gemini-api/docs/webhooks: the signing secret (``whsec_`` + base64) is shown once,
on create (``new_signing_secret``) and on rotate (``secret``); deliveries follow Standard Webhooks (``webhook-id``
kept across retries, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``,
one signature per valid secret during a rotation, signed with the ``standardwebhooks`` library); the body is a
thin event ``{"type", "version", "timestamp", "data": {"id"}}``; delivery is at least once, retried on anything
but a 2xx, in no guaranteed order.

Stricter than needed, as our fakes are: a URI must be https (plain http only to a loopback address, for tests),
events and fields must be ones the SDK's types define. What a test can make the deliveries do
(:class:`DeliveryControls`): arrive late, twice, out of order, forged, stale, or not at all.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import catalog
from .errors import ApiError, invalid_argument

if TYPE_CHECKING:
    from .config import EmulatorConfig
    from .timeline import Interaction

log = logging.getLogger(__name__)

# A run's final status → the event a webhook subscribed to it hears (the SDK's list has no cancel event).
EVENT_OF_STATUS: dict[str, str] = {
    "completed": "interaction.completed",
    "failed": "interaction.failed",
    "incomplete": "interaction.failed",
    "budget_exceeded": "interaction.failed",
    "requires_action": "interaction.requires_action",
}
ROTATION_OVERLAP_SECONDS = 24 * 3600.0  # revoke_previous_secrets_after_h24
DELIVERY_TIMEOUT_SECONDS = 10.0
MAX_LOG = 5000


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class DeliveryControls:
    """How deliveries misbehave, for tests (``POST /_emulator/webhooks`` sets them; all off by default)."""

    delay_seconds: float = 0.0  # late: wait this long before the first attempt
    copies: int = 1  # twice: 2 (the same webhook-id, as a retry would be)
    drop: bool = False  # not at all
    forge: bool = False  # signed with a secret nobody was given
    reverse_batch: int = 0  # out of order: hold this many deliveries, then send them newest first
    timestamp_skew_seconds: float = 0.0  # stale: signed as if sent this long ago (e.g. 600)


@dataclass
class Secret:
    value: str
    expires: float | None = None  # epoch seconds; None: current

    def valid(self, now: float) -> bool:
        return self.expires is None or now < self.expires


@dataclass
class Hook:
    id: str
    uri: str
    events: list[str]
    name: str | None
    secrets: list[Secret]
    state: str = "enabled"
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    def to_json(self, *, new_secret: str | None = None) -> dict[str, Any]:
        now = time.time()
        out: dict[str, Any] = {
            "id": self.id,
            "uri": self.uri,
            "subscribed_events": list(self.events),
            "state": self.state,
            "create_time": _iso(self.created),
            "update_time": _iso(self.updated),
            "signing_secrets": [
                {"truncated_secret": s.value[:10] + "…"}
                | ({"expire_time": _iso(s.expires)} if s.expires else {})
                for s in self.secrets
                if s.valid(now)
            ],
        }
        if self.name:
            out["name"] = self.name
        if new_secret:
            out["new_signing_secret"] = new_secret
        return out


@dataclass
class DeliveryRecord:
    """One attempt to deliver one event to one webhook (``GET /_emulator/webhooks`` lists them)."""

    webhook_id: str  # the Standard Webhooks message id (the header)
    hook_id: str
    event: str
    interaction_id: str
    attempt: int
    forged: bool
    status: int | None = None  # the receiver's HTTP status; None: no answer (see error)
    error: str | None = None
    wall_time: float = field(default_factory=time.time)


@dataclass
class _Delivery:
    hook: Hook
    webhook_id: str
    event: str
    interaction_id: str
    body: bytes


class Webhooks:
    """Registered webhooks and their deliveries. REST calls and deliveries run on the emulator's loop; the
    controls and the log may be read and set from any thread."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._hooks: dict[str, Hook] = {}
        self.controls = DeliveryControls()
        self._log: list[DeliveryRecord] = []
        self._lock = threading.Lock()
        self._held: list[_Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: Any = None  # aiohttp.ClientSession, made on the loop when first needed

    # -- the REST resource ---------------------------------------------------------------------------------

    def handle(self, method: str, hook_id: str | None, action: str | None, body: Any, query: Any) -> Any:
        """One WebhookService call; the JSON answer, or an ``ApiError``."""
        if hook_id is None:
            if method == "POST" and action is None:
                return self._create(body)
            if method == "GET" and action is None:
                return self._list(query)
            raise ApiError(404, f"Method not found: {method} webhooks")
        hook = self._hooks.get(hook_id)
        if hook is None:
            raise ApiError(404, f"Webhook {hook_id} not found.")
        match (method, action):
            case ("GET", None):
                return hook.to_json()
            case ("PATCH", None):
                return self._update(hook, body)
            case ("DELETE", None):
                del self._hooks[hook_id]
                return {}
            case ("POST", ":ping"):
                # The docs do not show a ping's body; ours is the thin shape with a type no run produces.
                self._send(hook, "webhook.ping", hook.id)
                return {}
            case ("POST", ":rotateSigningSecret"):
                return self._rotate(hook, body)
        raise ApiError(404, f"Method not found: {method} webhooks/{hook_id}{action or ''}")

    def _create(self, body: Any) -> dict[str, Any]:
        fields = self._fields(body, required=("uri", "subscribed_events"))
        hook = Hook(
            id=f"wh_{secrets.token_hex(8)}",
            uri=_check_uri(fields["uri"]),
            events=_check_events(fields["subscribed_events"]),
            name=_check_name(fields.get("name")),
            secrets=[Secret(new_secret())],
        )
        self._hooks[hook.id] = hook
        return hook.to_json(new_secret=hook.secrets[0].value)

    def _list(self, query: Any) -> dict[str, Any]:
        size = int(query.get("page_size") or 50)
        if not 0 < size <= 1000:
            raise invalid_argument("page_size must be between 1 and 1000.")
        hooks = sorted(self._hooks.values(), key=lambda h: h.created)
        start = int(query.get("page_token") or 0)
        page = hooks[start : start + size]
        out: dict[str, Any] = {"webhooks": [h.to_json() for h in page]}
        if start + size < len(hooks):
            out["next_page_token"] = str(start + size)
        return out

    def _update(self, hook: Hook, body: Any) -> dict[str, Any]:
        fields = self._fields(body)
        if "uri" in fields:
            hook.uri = _check_uri(fields["uri"])
        if "subscribed_events" in fields:
            hook.events = _check_events(fields["subscribed_events"])
        if "name" in fields:
            hook.name = _check_name(fields["name"])
        if "state" in fields:
            if fields["state"] not in ("enabled", "disabled"):
                raise invalid_argument("state must be 'enabled' or 'disabled'.")
            hook.state = fields["state"]
        hook.updated = time.time()
        return hook.to_json()

    def _rotate(self, hook: Hook, body: Any) -> dict[str, Any]:
        behavior = (body or {}).get("revocation_behavior") or "revoke_previous_secrets_after_h24"
        now = time.time()
        if behavior == "revoke_previous_secrets_immediately":
            hook.secrets = []
        elif behavior == "revoke_previous_secrets_after_h24":
            for old in hook.secrets:
                if old.expires is None or old.expires > now + ROTATION_OVERLAP_SECONDS:
                    old.expires = now + ROTATION_OVERLAP_SECONDS
        else:
            raise invalid_argument(f"Unknown revocation_behavior {behavior!r}.")
        fresh = Secret(new_secret())
        hook.secrets = [s for s in hook.secrets if s.valid(now)] + [fresh]
        hook.updated = now
        return {"secret": fresh.value}

    @staticmethod
    def _fields(body: Any, required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid_argument("Invalid JSON payload received: expected a Webhook object.")
        unknown = set(body) - catalog.webhook_fields()
        if unknown:
            raise invalid_argument(f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}.")
        missing = [name for name in required if not body.get(name)]
        if missing:
            raise invalid_argument(f"{missing[0]} is required.")
        return body

    # -- deliveries -----------------------------------------------------------------------------------------

    def interaction_ended(self, it: Interaction) -> None:
        """Called on the loop when a run reaches its final status: tell every webhook subscribed to it."""
        event = EVENT_OF_STATUS.get(it.status)
        if event is None:
            return
        for hook in list(self._hooks.values()):
            if hook.state == "enabled" and event in hook.events:
                self._send(hook, event, it.id)

    def _send(self, hook: Hook, event: str, object_id: str) -> None:
        controls = self.controls
        if controls.drop:
            return
        now = time.time()
        body = json.dumps(
            {"type": event, "version": "v1", "timestamp": _iso(now), "data": {"id": object_id}},
            separators=(",", ":"),
        ).encode()
        delivery = _Delivery(hook, f"msg_{secrets.token_hex(12)}", event, object_id, body)
        if controls.reverse_batch > 1:
            self._held.append(delivery)
            if len(self._held) < controls.reverse_batch:
                return
            batch, self._held = self._held[::-1], []
            self._spawn(self._deliver_in_order(batch))
            return
        self._spawn(self._deliver(delivery))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work, name="emulator-webhook-delivery")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_in_order(self, batch: list[_Delivery]) -> None:
        for delivery in batch:
            await self._deliver(delivery)

    async def _deliver(self, delivery: _Delivery) -> None:
        controls = self.controls
        if controls.delay_seconds > 0:
            await asyncio.sleep(controls.delay_seconds)
        for _copy in range(max(1, controls.copies)):
            wait = self._config.webhook_retry_seconds
            for attempt in range(1, self._config.webhook_attempts + 1):
                if await self._attempt(delivery, attempt):
                    break
                await asyncio.sleep(wait)
                wait *= 2

    async def _attempt(self, delivery: _Delivery, attempt: int) -> bool:
        """One POST; True when the receiver acknowledged it (any 2xx)."""
        import aiohttp
        from standardwebhooks.webhooks import Webhook

        controls = self.controls
        now = time.time()
        stamp = datetime.fromtimestamp(now - controls.timestamp_skew_seconds, UTC)
        keys = [new_secret()] if controls.forge else [s.value for s in delivery.hook.secrets if s.valid(now)]
        signature = " ".join(Webhook(key).sign(delivery.webhook_id, stamp, delivery.body) for key in keys)
        headers = {
            "content-type": "application/json",
            "user-agent": "Google-Gemini-Webhooks (emulated)",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(int(stamp.timestamp())),
            "webhook-signature": signature,
        }
        record = DeliveryRecord(
            delivery.webhook_id,
            delivery.hook.id,
            delivery.event,
            delivery.interaction_id,
            attempt,
            forged=controls.forge,
        )
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_SECONDS),
                connector=aiohttp.TCPConnector(limit=100),
            )
        try:
            async with self._session.post(delivery.hook.uri, data=delivery.body, headers=headers) as response:
                await response.read()
                record.status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._log.append(record)
            del self._log[:-MAX_LOG]
        return record.status is not None and 200 <= record.status < 300

    # -- inspection and lifecycle ----------------------------------------------------------------------------

    def deliveries(self) -> list[DeliveryRecord]:
        with self._lock:
            return list(self._log)

    def snapshot(self) -> dict[str, Any]:
        return {
            "webhooks": [h.to_json() for h in list(self._hooks.values())],
            "controls": asdict(self.controls),
            "deliveries": [asdict(r) for r in self.deliveries()],
            "pending": len(self._tasks),
        }

    def configure(self, changes: dict[str, Any]) -> None:
        """Set delivery controls by name (unknown names raise ``ValueError``)."""
        for key, value in changes.items():
            if not hasattr(self.controls, key):
                raise ValueError(f"unknown delivery control {key!r}")
            setattr(self.controls, key, type(getattr(self.controls, key))(value))

    def reset(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._hooks.clear()
        self._held.clear()
        self.controls = DeliveryControls()
        with self._lock:
            self._log.clear()

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None


def _check_uri(value: Any) -> str:
    parts = urlsplit(str(value or ""))
    if parts.scheme == "https" and parts.hostname:
        return str(value)
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return str(value)  # the real service wants a public https URL; tests use loopback http
    raise invalid_argument("uri must be an https URL that Google can reach.")


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise invalid_argument("subscribed_events must list at least one event.")
    known = catalog.webhook_events()
    for event in value:
        if event not in known:
            raise invalid_argument(f"Unknown event {event!r} in subscribed_events; known: {sorted(known)}.")
    return [str(event) for event in dict.fromkeys(value)]


def _check_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 128:
        raise invalid_argument("name must be a string of at most 128 characters.")
    return value
