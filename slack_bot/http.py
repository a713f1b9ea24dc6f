"""HTTP mode's routes, assembled in one place (a new endpoint is added here, and gets the same body guard):
Slack's Events API, slash commands and interactivity at ``POST /slack/events``; ``GET /healthz`` and
``GET /readyz`` (``health.py``); Gemini's webhook deliveries at ``POST /gemini/webhooks`` when they are
configured (``server.core.webhooks``).

Every route reads its body through ``server.core.guard_bodies``: bytes are counted as they arrive, so a body
past ``MAX_BODY_BYTES`` (chunked, or lying in its ``Content-Length``) gets 413 after at most that much is read,
and one that trickles in gets 408. A request to ``/slack/events`` is then checked against
``SLACK_SIGNING_SECRET`` before anything parses it: unsigned, signed with another secret, a timestamp that is not
a number or more than five minutes old, or a body that is not UTF-8 all get 401 and one log line (Bolt would
answer some of these with a 500 and a traceback, and log the whole body of the others).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.core import WEBHOOK_PATH, guard_bodies, webhook_endpoint

from .health import health_routes

if TYPE_CHECKING:
    from .bot import SlackBot

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are small; refuse anything absurd before reading it all


def unsigned_reason(verifier: SignatureVerifier, body: bytes, request: Request) -> str | None:
    """Why this is not a request Slack signed with our secret, or None when it is."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        return "no signature"
    if not timestamp.isascii() or not timestamp.isdigit():
        return "a timestamp that is not a number"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "a body that is not UTF-8"
    if not verifier.is_valid(text, timestamp, signature):
        return "a wrong signature, or a timestamp more than five minutes away"
    return None


def http_app(bot: SlackBot) -> Starlette:
    handler = AsyncSlackRequestHandler(bot.app)
    verifier = SignatureVerifier(bot.config.signing_secret or "-")  # HTTP mode refuses to start without one

    async def events(request: Request) -> Response:
        reason = unsigned_reason(verifier, await request.body(), request)
        if reason is not None:
            client = request.client.host if request.client else "?"
            log.warning("refused a request to %s from %s: %s", EVENTS_PATH, client, reason)
            return JSONResponse({"error": "invalid request"}, status_code=401)
        return await handler.handle(request)  # Bolt reads the body we already read, and checks it again

    routes = [Route(EVENTS_PATH, endpoint=events, methods=["POST"]), *health_routes(bot)]
    receiver = bot.core.webhooks
    if receiver is not None:
        routes.append(Route(WEBHOOK_PATH, endpoint=webhook_endpoint(lambda: receiver), methods=["POST"]))
    app = Starlette(routes=routes)
    return guard_bodies(app, max_bytes=MAX_BODY_BYTES, timeout=bot.core.settings.http_body_timeout_seconds)
