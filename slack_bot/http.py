"""HTTP mode's routes, assembled in one place (a new endpoint is added here): Slack's Events API, slash commands
and interactivity at ``POST /slack/events``; ``GET /healthz``.

Bolt verifies every request's signature (``SLACK_SIGNING_SECRET``) before any listener runs: a bad signature or
a timestamp more than five minutes old gets 401.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from .bot import SlackBot

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are small; refuse anything absurd before reading it all


def http_app(bot: SlackBot) -> Starlette:
    handler = AsyncSlackRequestHandler(bot.app)

    async def events(request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"error": "request too large"}, status_code=413)
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "background_tasks": bot.tasks.running})

    return Starlette(
        routes=[
            Route(EVENTS_PATH, endpoint=events, methods=["POST"]),
            Route("/healthz", endpoint=healthz, methods=["GET"]),
        ]
    )
