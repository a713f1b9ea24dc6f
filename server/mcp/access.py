"""Who may call over HTTP, from the settings: nobody checked (loopback only), bearer tokens, or OAuth.

- GEMINI_INTERACTIONS_MCP_TOKEN and/or GEMINI_INTERACTIONS_MCP_TOKENS_FILE: bearer tokens (``tokens.py``). No
  authorization server is advertised at all: no protected-resource metadata, no ``resource_metadata`` in
  ``WWW-Authenticate``.
- GEMINI_INTERACTIONS_OAUTH_ISSUER: OAuth resource server (``oauth.py``). The protected-resource metadata
  (RFC 9728, served by the SDK at ``/.well-known/oauth-protected-resource/mcp``) and ``WWW-Authenticate`` name
  that issuer and this server's public URL: GEMINI_INTERACTIONS_PUBLIC_URL, or the bind address when it is a
  real one (never a wildcard such as ``0.0.0.0``).

The two kinds do not mix: a deployment answers to one identity provider.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mcp.server.auth.settings import AuthSettings

from .auth import Access, is_loopback
from .oauth import JwtVerifier
from .tokens import TokensFileError, TokenVerifier

if TYPE_CHECKING:
    from server.core import Settings

# AuthSettings must name an issuer. With bearer tokens the SDK gets no resource_server_url and no authorization
# server provider, so it publishes no metadata and this value never leaves the process (a test checks).
NO_ISSUER = "https://no-authorization-server.invalid"


class AccessError(Exception):
    """The identity settings cannot be served as they are; the message says what to set."""


def is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return not host.strip()


def public_base(settings: Settings, host: str, port: int) -> str | None:
    """This server's public URL without a trailing slash; None when only a wildcard bind address is known."""
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or is_wildcard(parts.hostname):
            raise AccessError(
                f"GEMINI_INTERACTIONS_PUBLIC_URL {settings.public_url!r} is not a URL clients can reach: set it "
                "to what they type, e.g. https://mcp.example.com."
            )
        return settings.public_url.rstrip("/")
    if is_wildcard(host):
        return None
    bare = host.strip("[]")
    return f"http://[{bare}]:{port}" if ":" in bare else f"http://{bare}:{port}"


def public_host(settings: Settings) -> str | None:
    """The Host header clients send to GEMINI_INTERACTIONS_PUBLIC_URL, to accept it (DNS-rebinding checks)."""
    return urlsplit(settings.public_url).netloc if settings.public_url else None


def access_for(settings: Settings, host: str, port: int) -> Access | None:
    """The access rules for serving on ``host:port``; None when no token is configured."""
    tokens = settings.mcp_token is not None or settings.mcp_tokens_file is not None
    if settings.oauth_issuer:
        if tokens:
            raise AccessError(
                "GEMINI_INTERACTIONS_OAUTH_ISSUER is set together with GEMINI_INTERACTIONS_MCP_TOKEN or "
                "GEMINI_INTERACTIONS_MCP_TOKENS_FILE: choose one way for callers to sign in and unset the other."
            )
        return _oauth(settings, host, port)
    if not tokens:
        return None
    single = settings.mcp_token.get_secret_value() if settings.mcp_token else None
    return bearer_access(single, settings.mcp_tokens_file)


def bearer_access(single: str | None = None, tokens_file: Path | None = None) -> Access:
    """Bearer tokens: the single one, the named ones of ``tokens_file``, or both; AccessError for a bad file."""
    try:
        verifier = TokenVerifier(single, tokens_file)
    except TokensFileError as exc:
        raise AccessError(str(exc)) from None
    kinds = [what for what, on in (("a single token", single), ("named tokens", tokens_file)) if on]
    auth = AuthSettings(issuer_url=NO_ISSUER, resource_server_url=None)
    return Access(verifier, auth, " and ".join(kinds), single_token_chars=len(single) if single else None)


def _oauth(settings: Settings, host: str, port: int) -> Access:
    issuer = settings.oauth_issuer or ""
    parts = urlsplit(issuer)
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname or "")):
        raise AccessError(
            f"GEMINI_INTERACTIONS_OAUTH_ISSUER {issuer!r} must be an https:// URL (the issuer exactly as its "
            "tokens' iss claim says it)."
        )
    base = public_base(settings, host, port)
    if base is None:
        raise AccessError(
            f"OAuth needs this server's public URL, and {host} is not one: set GEMINI_INTERACTIONS_PUBLIC_URL "
            "to the URL clients reach this server at (e.g. https://mcp.example.com)."
        )
    resource = f"{base}/mcp"
    audience = settings.oauth_audience or resource
    verifier = JwtVerifier(issuer, audience, jwks_url=settings.oauth_jwks_url)
    # We check the audience ourselves (it may be set apart from the resource URL), so the SDK need not.
    auth = AuthSettings(issuer_url=issuer, resource_server_url=resource, validate_token_resource=False)
    return Access(verifier, auth, f"OAuth access tokens from {issuer} for {audience}")
