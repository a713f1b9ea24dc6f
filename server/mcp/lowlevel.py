"""Every use of private mcp SDK API, in one place (written against mcp 2.3.x). Re-check it on SDK upgrades.

- ``MCPServer._lowlevel_server``: to register the 2025-11-25 ``resources/subscribe`` handlers (MCPServer has no
  public hook for them) and to run a stdio session over streams we provide.
- ``ServerSession._connection``: ``ctx.session`` is rebuilt for every request; the per-client ``Connection``
  behind it is what a later notification must go to, and what tells us when the client is gone.
- ``StreamableHTTPSessionManager._server_instances``: the 2025-11-25 sessions open now (the manager drops one
  when its client deletes it, when it idles out, or when it crashes); the per-owner cap counts from it.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

import anyio.abc
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext


def add_request_handler(server: MCPServer[Any], method: str, params_type: type[Any], handler: Any) -> None:
    server._lowlevel_server.add_request_handler(method, params_type, handler)


def connection_of(ctx: ServerRequestContext[Any, Any]) -> Any:
    """The per-client ``Connection``: ``send_resource_updated(uri)``, ``exit_stack`` unwound when it closes."""
    return ctx.session._connection


async def run_session(
    server: MCPServer[Any],
    read_stream: anyio.abc.ObjectReceiveStream[Any],
    write_stream: anyio.abc.ObjectSendStream[Any],
) -> None:
    """What ``MCPServer.run_stdio_async`` does once it has streams: the lifespan, then the session loop."""
    lowlevel = server._lowlevel_server
    await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


def open_sessions(server: MCPServer[Any]) -> Container[str]:
    """Ids of the 2025-11-25 HTTP sessions open now (valid once ``streamable_http_app`` has been built)."""
    sessions: Container[str] = server.session_manager._server_instances
    return sessions
