"""Who is calling: the owner every job and interaction of this call is recorded under (``server/core/owners.py``),
and whose open MCP sessions count against one cap (``sessions.py``)."""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token

from server.core import Origin

from .tokens import CallerToken


def caller() -> str | None:
    """The owner the auth layer vouches for: the access token's owner over HTTP (``token:<name>``,
    ``oidc:<issuer>#<sub>``); the local user (None) on stdio, or on a loopback HTTP server without tokens."""
    token = get_access_token()
    if token is None:
        return None
    if not isinstance(token, CallerToken):  # every verifier of ours returns one
        raise TypeError(f"unexpected access token type {type(token).__name__}")
    return token.owner


def viewer() -> Origin:
    """The caller, as the core records it."""
    return Origin(source="mcp", owner=caller())
