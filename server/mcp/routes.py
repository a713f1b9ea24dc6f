"""The HTTP side of the MCP front door, assembled in one place: the streamable HTTP endpoint at ``/mcp`` and
every other route the server answers (``/healthz``, ``/readyz``; ``POST /gemini/webhooks`` when Gemini's webhooks are
configured). A new endpoint is added here (``add_routes``); it gets the same guards as every other route: bodies
bounded in bytes and time (``server.core.guard_bodies``), heads in time (``serve_http``)."""

from typing import Any

from mcp.server import MCPServer
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from server.core import WEBHOOK_PATH, Settings, WebhookReceiver, guard_bodies, webhook_endpoint

from .auth import HttpSecurity, LowercaseHost
from .lifespan import CoreSlot
from .lowlevel import open_sessions
from .sessions import SessionCap

#: The SDK refuses a bigger ``/mcp`` body itself (413); the guard holds every route to the same bound.
MAX_BODY_BYTES = DEFAULT_MAX_REQUEST_BODY_SIZE

STARTING = {
    "ready": False,
    "store": "opening",
    "migrations": None,
    "attempts": 0,
    "detail": "The server is starting.",
}


async def healthz(_request: Request) -> JSONResponse:
    """Liveness: the process serves."""
    return JSONResponse({"status": "ok"})


def readyz_for(slot: CoreSlot) -> Any:
    async def readyz(_request: Request) -> JSONResponse:
        """Readiness: the job store is open and its migrations applied (503 with the reason until then)."""
        if slot.core is None:
            return JSONResponse(STARTING, status_code=503)
        readiness = slot.core.readiness()
        return JSONResponse(readiness.as_json(), status_code=200 if readiness.ready else 503)

    return readyz


def add_routes(server: MCPServer[Any], settings: Settings, slot: CoreSlot) -> None:
    """Every route besides ``/mcp``; they answer without a token and whatever the Host header (Gemini's
    deliveries prove themselves with their signature)."""
    server.custom_route("/healthz", methods=["GET"])(healthz)
    server.custom_route("/readyz", methods=["GET"])(readyz_for(slot))
    if settings.webhooks_enabled:

        def receiver() -> WebhookReceiver | None:
            return slot.core.webhooks if slot.core is not None else None

        server.custom_route(WEBHOOK_PATH, methods=["POST"])(webhook_endpoint(receiver))


def http_app(server: MCPServer[Any], *, host: str, security: HttpSecurity, settings: Settings) -> Starlette:
    """The ASGI app ``--transport http`` serves: ``/mcp`` behind the token, Host checks and the session cap,
    plus the routes; every route's body bounded."""
    app = server.streamable_http_app(
        host=host,
        transport_security=security.transport_security,
        max_request_body_size=MAX_BODY_BYTES,
        session_idle_timeout=settings.mcp_session_idle_seconds,
    )
    # Innermost, after the SDK's auth middleware: the cap counts sessions per authenticated owner.
    app.user_middleware.append(
        Middleware(
            SessionCap,
            per_owner=settings.mcp_sessions_per_owner,
            idle_seconds=settings.mcp_session_idle_seconds,
            open_sessions=lambda: open_sessions(server),
        )
    )
    app.add_middleware(LowercaseHost)
    return guard_bodies(app, max_bytes=MAX_BODY_BYTES, timeout=settings.http_body_timeout_seconds)
