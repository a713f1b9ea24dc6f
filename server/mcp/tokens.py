"""Bearer tokens: the one GEMINI_INTERACTIONS_MCP_TOKEN, and the named ones of GEMINI_INTERACTIONS_MCP_TOKENS_FILE.

The tokens file holds one ``name: <sha256 hex of the token>`` per line (``gemini-interactions-admin token-hash``
prints one); blank lines and ``#`` comments are skipped. The server never holds the plain named tokens. A caller
is ``token:<name>``; the single token is ``token:_single``. The file is read again when it changes (looked at
every few seconds at most), so adding or removing a person needs no restart; a change that does not parse is
logged and the tokens read before stay in force. Tokens are compared as SHA-256 digests, in constant time.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from mcp.server.auth.provider import AccessToken

from server.core import SINGLE_TOKEN_NAME, TOKEN_NAME, TOKEN_NAME_RULE, token_digest, token_owner

log = logging.getLogger(__name__)

LINE = re.compile(r"(?P<name>[^:\s]+)\s*:\s*(?P<digest>\S+)")
DIGEST = re.compile(r"[0-9a-f]{64}")
RELOAD_CHECK_SECONDS = 2.0


class CallerToken(AccessToken):
    """An access token we accepted, and whose calls it makes (``server/core/owners.py``)."""

    owner: str


class TokensFileError(Exception):
    """The tokens file cannot be used; the message names the file and line, never a token."""


def parse_tokens(text: str, source: str) -> dict[str, str]:
    """``{digest: name}`` from the text of a tokens file."""
    found: dict[str, str] = {}
    names: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        match = LINE.fullmatch(line)
        if match is None:
            raise TokensFileError(f"{where}: expected 'name: <sha256 hex>' (make one with token-hash).")
        name, digest = match["name"], match["digest"].lower()
        if not TOKEN_NAME.fullmatch(name):
            raise TokensFileError(f"{where}: {name!r} is not a usable name: use {TOKEN_NAME_RULE}.")
        if not DIGEST.fullmatch(digest):
            raise TokensFileError(
                f"{where}: the hash must be 64 hex digits, the SHA-256 of the token (token-hash prints it)."
            )
        if name in names:
            raise TokensFileError(f"{where}: {name!r} is named twice; give each person one line.")
        if digest in found:
            raise TokensFileError(
                f"{where}: {name!r} has the same token as {found[digest]!r}; make a new one."
            )
        names.add(name)
        found[digest] = name
    if not found:
        raise TokensFileError(
            f"{source} names no token; add lines made by gemini-interactions-admin token-hash."
        )
    return found


@dataclass(frozen=True, slots=True)
class _Version:
    mtime_ns: int
    size: int


class TokenVerifier:
    """The SDK's TokenVerifier for bearer tokens: the single one, the named ones, or both."""

    def __init__(self, single: str | None = None, tokens_file: Path | None = None) -> None:
        self._single = token_digest(single) if single else None
        self._file = tokens_file
        self._named: dict[str, str] = {}
        self._version: _Version | None = None
        self._checked = 0.0
        if tokens_file is not None:
            self._load(tokens_file)

    def _load(self, path: Path) -> None:
        """Read the tokens file; TokensFileError when it is missing or wrong."""
        try:
            stat = path.stat()
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TokensFileError(
                f"GEMINI_INTERACTIONS_MCP_TOKENS_FILE {path} cannot be read ({exc.__class__.__name__}): check "
                "the path and that this server's user may read it."
            ) from None
        self._named = parse_tokens(text, str(path))
        self._version = _Version(stat.st_mtime_ns, stat.st_size)
        log.info("%d named token(s) read from %s", len(self._named), path)

    def _reload_if_changed(self) -> None:
        now = time.monotonic()
        if self._file is None or now - self._checked < RELOAD_CHECK_SECONDS:
            return
        self._checked = now
        try:
            stat = self._file.stat()
        except OSError:
            log.error("the tokens file %s is gone; the tokens read before stay in force", self._file)
            return
        if _Version(stat.st_mtime_ns, stat.st_size) == self._version:
            return
        try:
            self._load(self._file)
        except TokensFileError as exc:
            log.error("%s The tokens read before stay in force.", exc)

    def owner_of(self, token: str) -> str | None:
        self._reload_if_changed()
        digest = token_digest(token)
        owner = None
        # Every entry is compared, so how long this takes says nothing about which one matched.
        for known, name in self._named.items():
            if hmac.compare_digest(known, digest):
                owner = token_owner(name)
        if self._single is not None and hmac.compare_digest(self._single, digest):
            owner = token_owner(SINGLE_TOKEN_NAME)
        return owner

    async def verify_token(self, token: str) -> CallerToken | None:
        owner = self.owner_of(token)
        if owner is None:
            return None
        return CallerToken(token=token, client_id=owner, scopes=[], subject=owner, owner=owner)
