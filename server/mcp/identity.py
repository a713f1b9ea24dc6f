"""Who is calling: the owner every job and interaction of this call is recorded under, and whose open MCP sessions
count against one cap (``sessions.py``)."""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token

from server.core import Origin


def caller() -> str | None:
    """The owner the auth layer vouches for: the bearer token's client over HTTP, nobody in particular on stdio
    (or on a loopback bind without a token)."""
    token = get_access_token()
    return token.client_id if token else None


def viewer() -> Origin:
    """The caller, as the core records it."""
    return Origin(source="mcp", owner=caller())
