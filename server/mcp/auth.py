"""Who may call us over HTTP: the bind address rules and DNS-rebinding settings, around the access rules.

Every bind gets an explicit Host/Origin allow-list: the bound address and port, the loopback names when bound
to a loopback address, and the names clients really use (``--allowed-host``, ``GEMINI_INTERACTIONS_ALLOWED_HOSTS``,
the host of ``GEMINI_INTERACTIONS_PUBLIC_URL``), so a server in a container on 0.0.0.0 still answers
``mcp.example.com``. (The SDK's own default covers only 127.0.0.1, localhost and ::1: bound to 127.0.0.2, or to
127.0.1.1, Debian's address for the hostname, it would check nothing.) A non-loopback bind needs a way for
callers to sign in (``access.py``: bearer tokens or OAuth), and a single shared token there must be at least
``MIN_TOKEN_CHARS`` characters. Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server.auth.provider import TokenVerifier
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.types import ASGIApp, Receive, Scope, Send

#: Comma-separated extra Host values to accept (``name`` = any port, and no port behind a proxy; ``name:port``).
ALLOWED_HOSTS_ENV = "GEMINI_INTERACTIONS_ALLOWED_HOSTS"
# What the SDK accepts on a loopback bind when given no settings; kept on every loopback bind.
LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
#: Off loopback a token is all that stands between the internet and the API key's bill.
MIN_TOKEN_CHARS = 32


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _authority(host: str, port: int) -> str:
    bare = host.strip("[]")
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"


def parse_allowed_hosts(raw: str) -> list[str]:
    """``"mcp.example.com, 10.0.0.5:8000"`` → the entries, trimmed, empty ones dropped."""
    return [part.strip() for part in raw.split(",") if part.strip()]


def allowed_hosts(from_flags: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
    """``GEMINI_INTERACTIONS_ALLOWED_HOSTS`` (comma-separated), then every ``--allowed-host``."""
    env = os.environ if env is None else env
    return [*parse_allowed_hosts(env.get(ALLOWED_HOSTS_ENV, "")), *from_flags]


def _host_patterns(entry: str) -> list[str]:
    """Host header values one allow-list entry stands for: ``name:port`` exactly; a bare ``name`` with any port
    and with none (a reverse proxy on 80/443 forwards ``Host: name``)."""
    entry = entry.strip().lower()
    bracketed = entry.startswith("[")
    has_port = entry.rsplit("]", 1)[-1].count(":") == 1 if bracketed else entry.count(":") == 1
    if has_port or entry.endswith(":*"):
        return [entry]
    if not bracketed and ":" in entry:  # a bare IPv6 address
        entry = f"[{entry}]"
    return [entry, f"{entry}:*"]


def _origins(hosts: list[str]) -> list[str]:
    return [f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")]


@dataclass(frozen=True, slots=True)
class Access:
    """How callers prove who they are, as the SDK takes it (``MCPServer(token_verifier=..., auth=...)``); made
    from the settings by ``access.py``."""

    verifier: TokenVerifier
    auth: AuthSettings
    mode: str  # for the start-up log line
    single_token_chars: int | None = None  # the length of GEMINI_INTERACTIONS_MCP_TOKEN, when it is set


@dataclass(frozen=True, slots=True)
class HttpSecurity:
    """Everything the HTTP transport needs to know about who may call it."""

    token_verifier: TokenVerifier | None
    auth: AuthSettings | None
    transport_security: TransportSecuritySettings


class InsecureBind(Exception):
    """A non-loopback bind without a way to sign in: we refuse to start."""


def http_security(
    host: str, port: int, access: Access | None, extra_hosts: list[str] | None = None
) -> HttpSecurity:
    """Auth and DNS-rebinding settings for serving on ``host:port``; raises InsecureBind when unsafe."""
    from mcp.server.transport_security import TransportSecuritySettings

    loopback = is_loopback(host)
    if not loopback and access is None:
        raise InsecureBind(
            f"Refusing to serve MCP on {host}, which is not a loopback address, without a way for callers to "
            "sign in. Set GEMINI_INTERACTIONS_MCP_TOKEN to a long random secret (or "
            "GEMINI_INTERACTIONS_MCP_TOKENS_FILE, or GEMINI_INTERACTIONS_OAUTH_ISSUER), or bind to 127.0.0.1."
        )
    short = access.single_token_chars if access else None
    if not loopback and short is not None and short < MIN_TOKEN_CHARS:
        raise InsecureBind(
            f"Refusing to serve MCP on {host}, which is not a loopback address, with a "
            f"{short}-character GEMINI_INTERACTIONS_MCP_TOKEN: off loopback it must be at least "
            f"{MIN_TOKEN_CHARS} characters. Generate one with `openssl rand -hex 32`."
        )
    extras = [pattern for entry in extra_hosts or [] for pattern in _host_patterns(entry)]
    bound = _authority(host.lower(), port)
    hosts = list(dict.fromkeys([bound, *(LOOPBACK_HOSTS if loopback else ()), *extras]))
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=_origins(hosts)
    )
    return HttpSecurity(
        token_verifier=access.verifier if access else None,
        auth=access.auth if access else None,
        transport_security=security,
    )


class LowercaseHost:
    """ASGI middleware: ``Host`` and ``Origin`` lowercased before the SDK compares them with the allow-list.

    Host names (and an origin's scheme and host) are case-insensitive (RFC 9110 §4.2.3, RFC 6454 §4); the SDK
    compares strings exactly, so ``MCP.example.com`` would be refused while ``mcp.example.com`` is allowed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = dict(scope)
            scope["headers"] = [
                (name, value.lower() if name in (b"host", b"origin") else value)
                for name, value in scope["headers"]
            ]
        await self.app(scope, receive, send)
