"""Sign-in for tests: an identity provider on loopback (discovery document, JWKS, JWTs signed with keys it makes),
and a tokens file."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.core import token_digest
from tests.support.serving import loopback_socket, serving


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return public | {"kid": self.kid, "alg": "RS256", "use": "sig"}


class IdentityProvider:
    """An OpenID provider's public side: ``/.well-known/openid-configuration`` and ``/jwks.json`` (counted)."""

    def __init__(self) -> None:
        self.keys = [SigningKey(kid="key-1")]
        self.jwks_fetches = 0
        self.issuer = ""  # known once served
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks.json", self._jwks),
            ]
        )

    async def _discovery(self, _request: Request) -> JSONResponse:
        return JSONResponse({"issuer": self.issuer, "jwks_uri": f"{self.issuer}/jwks.json"})

    async def _jwks(self, _request: Request) -> JSONResponse:
        self.jwks_fetches += 1
        return JSONResponse({"keys": [key.jwk() for key in self.keys]})

    def rotate(self) -> SigningKey:
        """A new key, published next to the old ones (as identity providers roll keys)."""
        key = SigningKey(kid=f"key-{len(self.keys) + 1}")
        self.keys.append(key)
        return key

    def token(self, subject: str, audience: str, *, key: SigningKey | None = None, **claims: Any) -> str:
        """An access token as the provider issues it; keyword arguments override or add claims."""
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(subject, audience, **claims), key.private, algorithm="RS256", headers={"kid": key.kid}
        )

    def claims(
        self, subject: str, audience: str, *, issuer: str | None = None, lifetime: float = 300, **claims: Any
    ) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer if issuer is None else issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime),
            "jti": uuid.uuid4().hex,
            "scope": "openid",
        } | claims

    @asynccontextmanager
    async def running(self) -> AsyncIterator[IdentityProvider]:
        async with serving(self.app, loopback_socket()) as url:
            self.issuer = url
            yield self


def tokens_file(tmp_path: Path, **tokens: str) -> Path:
    path = tmp_path / "tokens"
    path.write_text(
        "# who may call\n" + "".join(f"{name}: {token_digest(t)}\n" for name, t in tokens.items())
    )
    return path
