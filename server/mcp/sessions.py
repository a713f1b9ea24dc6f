"""A cap on the 2025-11-25 MCP sessions one owner holds open over HTTP.

Each stateful session costs memory (about 50 KB) until its client deletes it or it sits idle for
``GEMINI_INTERACTIONS_MCP_SESSION_IDLE_SECONDS``; the SDK's only cap (10,000) is for the whole server, so one
client that opens sessions and forgets them would lock everyone else out until they idle away. Here every owner
(whoever the auth layer says is calling, ``identity.caller``) may hold ``GEMINI_INTERACTIONS_MCP_SESSIONS_PER_OWNER``
at once; one more gets 429 and the owner's open sessions are untouched. 2026-07-28 requests open no session.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Container

from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .identity import caller

log = logging.getLogger("server.mcp")


class SessionCap:
    """ASGI middleware for ``/mcp``, inside the auth middleware (it needs to know who is calling)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_owner: int,
        idle_seconds: float,
        open_sessions: Callable[[], Container[str]],
        path: str = "/mcp",
    ) -> None:
        self.app = app
        self.per_owner = per_owner
        self.idle_seconds = idle_seconds
        self._open_sessions = open_sessions
        self._path = path
        self._owners: dict[str, str | None] = {}  # session id → owner, for sessions we saw being opened
        self._opening: Counter[str | None] = Counter()  # requests that may open one, per owner, in flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._may_open_a_session(scope):
            await self.app(scope, receive, send)
            return
        owner = caller()
        if self.open_for(owner) >= self.per_owner:
            await self._refuse(scope, send, owner)
            return

        async def noting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                session_id = Headers(raw=message.get("headers", [])).get(MCP_SESSION_ID_HEADER)
                if session_id:
                    self._owners[session_id] = owner
            await send(message)

        self._opening[owner] += 1
        try:
            await self.app(scope, receive, noting_send)
        finally:
            self._opening[owner] -= 1
            if not self._opening[owner]:
                del self._opening[owner]

    def open_for(self, owner: str | None) -> int:
        """The owner's open sessions, plus its requests that may be opening one right now."""
        live = self._open_sessions()
        for session_id in [sid for sid in self._owners if sid not in live]:
            del self._owners[session_id]
        return sum(1 for held_by in self._owners.values() if held_by == owner) + self._opening[owner]

    def _may_open_a_session(self, scope: Scope) -> bool:
        """A POST to /mcp without a session id, in the 2025-11-25 era (no version header, or a handshake one)."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self._path:
            return False
        headers = Headers(scope=scope)
        if MCP_SESSION_ID_HEADER in headers:
            return False
        version = headers.get("mcp-protocol-version")
        return version is None or version in HANDSHAKE_PROTOCOL_VERSIONS

    async def _refuse(self, scope: Scope, send: Send, owner: str | None) -> None:
        log.warning(
            "refused a new MCP session for %s: it already holds %d (GEMINI_INTERACTIONS_MCP_SESSIONS_PER_OWNER)",
            owner or "the local caller",
            self.per_owner,
        )
        message = (
            f"Too many open MCP sessions for this caller (the limit is {self.per_owner}). Close sessions you no "
            f"longer use (HTTP DELETE with their Mcp-Session-Id); an idle one closes by itself after "
            f"{self.idle_seconds:g} s. Then connect again."
        )
        body = json.dumps(
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(max(1, round(self.idle_seconds))).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
