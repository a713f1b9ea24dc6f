"""The HTTP side of the MCP front door, assembled in one place: the streamable HTTP endpoint at ``/mcp`` and
every other route the server answers (``/healthz``). A new endpoint is added here."""

from typing import Any

from mcp.server import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from .auth import HttpSecurity


async def healthz(_request: Request) -> JSONResponse:
    """Liveness: the process serves."""
    return JSONResponse({"status": "ok"})


def add_routes(server: MCPServer[Any]) -> None:
    """Every route besides ``/mcp``; they answer without a token and whatever the Host header."""
    server.custom_route("/healthz", methods=["GET"])(healthz)


def http_app(server: MCPServer[Any], *, host: str, security: HttpSecurity) -> Starlette:
    """The ASGI app ``--transport http`` serves: ``/mcp`` behind the token and Host checks, plus the routes."""
    return server.streamable_http_app(host=host, transport_security=security.transport_security)
