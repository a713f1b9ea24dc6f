"""Who is calling: the owner every job and interaction of this call is recorded under."""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token

from server.core import Origin


def viewer() -> Origin:
    """The caller: the bearer token's client over HTTP, nobody in particular on stdio."""
    token = get_access_token()
    return Origin(source="mcp", owner=token.client_id if token else None)
