"""``GET /healthz`` (liveness: the process serves) and ``GET /readyz`` (readiness: the job store open, its
migrations applied, and Slack reachable: the bot's token accepted in HTTP mode, the Socket Mode connection up).

HTTP mode serves them on ``--port`` beside ``/slack/events`` (``http.py``); a Socket Mode bot serves no HTTP, so
it serves them alone on ``--health-port`` when given, for container orchestrators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.core import guard_bodies

if TYPE_CHECKING:
    from .bot import SlackBot

HEALTH_MAX_BODY_BYTES = 1024  # GET only: nothing to read

SLACK_DOWN = (
    "The Socket Mode connection to Slack is down; the bot reconnects on its own. If this lasts, check the network "
    "and SLACK_APP_TOKEN."
)


async def readiness(bot: SlackBot) -> tuple[bool, dict[str, Any]]:
    """Whether the bot can serve everything, and the ``/readyz`` body that says why not."""
    store = bot.core.readiness()
    slack = await bot.slack_connected()
    body = store.as_json() | {
        "ready": store.ready and slack,
        "slack": "connected" if slack else "disconnected",
    }
    if store.ready and not slack:
        body["detail"] = SLACK_DOWN
    return bool(body["ready"]), body


def health_routes(bot: SlackBot) -> list[Route]:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"ok": True, "background_tasks": bot.tasks.running})

    async def readyz(_request: Request) -> Response:
        ready, body = await readiness(bot)
        return JSONResponse(body, status_code=200 if ready else 503)

    return [
        Route("/healthz", endpoint=healthz, methods=["GET"]),
        Route("/readyz", endpoint=readyz, methods=["GET"]),
    ]


def health_app(bot: SlackBot) -> Starlette:
    """What ``--health-port`` serves in Socket Mode: the two endpoints and nothing else, bodies bounded like
    every route of ours (``server.core.guard_bodies``)."""
    return guard_bodies(
        Starlette(routes=health_routes(bot)),
        max_bytes=HEALTH_MAX_BODY_BYTES,
        timeout=bot.core.settings.http_body_timeout_seconds,
    )
