"""OAuth 2.1 resource server: JWT access tokens from the company's identity provider, checked with PyJWT.

As the MCP authorization spec asks of a resource server: a token is accepted when it is a JWT signed by one of the
issuer's keys with an asymmetric algorithm (never ``none`` nor a shared secret), names that issuer (``iss``) and
this server (``aud``, default ``<GEMINI_INTERACTIONS_PUBLIC_URL>/mcp``), has a subject, has not expired (``exp``)
and is already valid (``nbf``), with ``LEEWAY_SECONDS`` for clock skew. The caller is ``oidc:<issuer>#<sub>``.

Keys come from GEMINI_INTERACTIONS_OAUTH_JWKS_URL, or else from the ``jwks_uri`` of the issuer's discovery
document (OpenID Connect Discovery, then RFC 8414), read once. PyJWT's ``PyJWKClient`` caches the key set and
fetches it again when a token names a key it does not know (a rotation), at most once per
``refresh_cooldown`` seconds; every fetch has a timeout. Fetches run in worker threads (PyJWT reads with urllib).
A token refused is logged with why, never with the token.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import anyio
import jwt

from server.core import oidc_owner

from .tokens import CallerToken

log = logging.getLogger(__name__)

#: Asymmetric signatures only: a shared-secret (HS*) or unsigned token from anyone must never pass.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_SECONDS = 30
FETCH_TIMEOUT_SECONDS = 10.0
KEYS_LIFESPAN_SECONDS = 300.0
REFRESH_COOLDOWN_SECONDS = 10.0
DISCOVERY_RETRY_SECONDS = 30.0
MAX_DOCUMENT_BYTES = 1 << 20


class DiscoveryFailed(Exception):
    """The issuer's discovery document could not be read or does not name its keys."""


def discovery_urls(issuer: str) -> list[str]:
    """Where the issuer's metadata lives: OpenID Connect Discovery 1.0 §4, then RFC 8414 §3."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return [
        f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}",
    ]


def _read_json(url: str, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) URLs we build
        return json.loads(response.read(MAX_DOCUMENT_BYTES + 1)[:MAX_DOCUMENT_BYTES])


def discover_jwks_uri(issuer: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> str:
    """The ``jwks_uri`` of ``issuer``'s metadata (blocking). The document must name the same issuer."""
    problems = []
    for url in discovery_urls(issuer):
        try:
            document = _read_json(url, timeout)
        except (OSError, ValueError, urllib.error.URLError) as exc:
            problems.append(f"{url}: {exc.__class__.__name__}")
            continue
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            problems.append(
                f"{url}: names issuer {document.get('issuer') if isinstance(document, dict) else None!r}"
            )
            continue
        jwks_uri = document.get("jwks_uri")
        if isinstance(jwks_uri, str) and urlsplit(jwks_uri).scheme in ("http", "https"):
            return jwks_uri
        problems.append(f"{url}: no jwks_uri")
    raise DiscoveryFailed(
        f"The keys of OAuth issuer {issuer} could not be found ({'; '.join(problems)}). Check "
        "GEMINI_INTERACTIONS_OAUTH_ISSUER (exactly as the tokens' iss claim says it), or set "
        "GEMINI_INTERACTIONS_OAUTH_JWKS_URL."
    )


class JwtVerifier:
    """The SDK's TokenVerifier for JWT access tokens from one issuer, for one audience."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        jwks_url: str | None = None,
        refresh_cooldown: float = REFRESH_COOLDOWN_SECONDS,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._jwks_url = jwks_url
        self._cooldown = refresh_cooldown
        self._client: jwt.PyJWKClient | None = None
        self._lock = anyio.Lock()
        self._failed_at: float | None = None

    async def _keys(self) -> jwt.PyJWKClient:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                if (
                    self._failed_at is not None
                    and time.monotonic() - self._failed_at < DISCOVERY_RETRY_SECONDS
                ):
                    raise DiscoveryFailed("the issuer's discovery document failed a moment ago")
                url = self._jwks_url
                if url is None:
                    try:
                        url = await anyio.to_thread.run_sync(discover_jwks_uri, self.issuer)
                    except DiscoveryFailed:
                        self._failed_at = time.monotonic()
                        raise
                self._client = jwt.PyJWKClient(
                    url,
                    lifespan=KEYS_LIFESPAN_SECONDS,
                    timeout=FETCH_TIMEOUT_SECONDS,
                    cooldown_duration=self._cooldown,
                )
            return self._client

    def _decode(self, client: jwt.PyJWKClient, token: str) -> dict[str, Any]:
        """The verified claims of ``token`` (blocking: it may fetch the keys); PyJWT's errors when refused."""
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:  # some issuers leave kid out when they have one key
            keys = client.get_signing_keys()
            if len(keys) != 1:
                raise jwt.InvalidTokenError("the token names no key (kid) and the issuer has several")
            key = keys[0]
        else:
            key = client.get_signing_key(kid)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=self.audience,
            issuer=self.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        return claims

    async def verify_token(self, token: str) -> CallerToken | None:
        try:
            client = await self._keys()
            claims = await anyio.to_thread.run_sync(self._decode, client, token)
        except DiscoveryFailed as exc:
            log.error("refused an access token: %s", exc)
            return None
        except jwt.PyJWKClientConnectionError:
            log.error("refused an access token: the issuer's keys could not be fetched (timeout or network)")
            return None
        except jwt.PyJWTError as exc:
            log.info("refused an access token: %s (%s)", exc.__class__.__name__, exc)
            return None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            log.info("refused an access token: its subject (sub) is empty")
            return None
        scope = claims.get("scope")
        return CallerToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or subject),
            scopes=scope.split() if isinstance(scope, str) else [],
            expires_at=int(claims["exp"]),
            resource=self.audience,
            subject=subject,
            claims=claims,
            owner=oidc_owner(self.issuer, subject),
        )
