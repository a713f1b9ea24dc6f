"""A fake Slack Web API on 127.0.0.1 for tests and benchmarks.

It answers the methods the bot calls, records every call, keeps the messages it was sent (with their metadata,
so ``conversations.replies`` can return them), serves the files ``files_upload_v2`` uploads and the files
users "shared", speaks Socket Mode on a websocket, and injects faults (429 with ``Retry-After``, 5xx).

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        ...
        calls = await slack.wait_for("chat.postMessage", 2)

Rules that Slack enforces and the bot must respect are enforced here too, each citing its Slack doc, so a test
fails when the bot breaks them (``slack_rules.py``; switch them with ``FakeSlack(rules=SlackRules(...))``):
membership (``not_in_channel``, and ``channel_not_found`` for DMs and group DMs the bot is not in), a
``thread_ts`` that must be an existing parent message, per-channel rate limiting with ``Retry-After`` (off unless
a test turns it on), Block Kit validation per surface (no markdown block in a Home tab, header ≤ 150, ...), text
limits (``chat.update`` over 4,000 characters → ``msg_too_long``, over 12,000 characters of ``markdown`` blocks →
``msg_blocks_too_long``), the scopes the app was granted (``missing_scope``; by default the manifest's),
``conversations.replies`` with the parent and people's messages in pages, Slack Connect files as stubs that only
``files.info`` completes, a ``response_url`` that takes 5 messages, and chat streaming (``chat.startStream`` /
``appendStream`` / ``stopStream``: recipients outside DMs, a stream written to after it stopped or on a message
that is not one, ``chat.update`` on a live stream). The text of events and commands is escaped
as Slack escapes it (``slack_text``). Every call, event and command is also added to ``slack_scopes.SESSION``.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

from .slack_rules import (
    Channel,
    SlackRules,
    check_blocks,
    default_channel,
    not_a_member_error,
    slack_text,
)
from .slack_scopes import APP_TOKEN_METHODS, SESSION, event_subscription, manifest_scopes, method_scope

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"

UPDATE_TEXT_LIMIT = 4_000
REPLIES_LIMIT = 1_000  # conversations.replies: limit defaults to (and may not exceed) 1000
# Who a test's users are, for users.info (docs.slack.dev/reference/methods/users.info).
DEFAULT_USERS = {
    "U1": {"name": "ada", "real_name": "Ada Lovelace", "display_name": "Ada"},
    "U2": {"name": "grace", "real_name": "Grace Hopper", "display_name": ""},
    "UBOT": {"name": "gemini", "real_name": "Gemini", "display_name": "Gemini"},
}


@dataclass(slots=True)
class Call:
    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    status: int
    response: dict[str, Any] | str
    at: float = field(default_factory=time.monotonic)  # when it was answered

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.response, dict) and bool(self.response.get("ok"))


@dataclass(slots=True)
class Fault:
    method: str
    status: int
    times: int
    headers: dict[str, str]
    body: dict[str, Any] | str


@dataclass(slots=True)
class SharedFile:
    id: str
    name: str
    mimetype: str
    data: bytes
    slack_connect: bool = False
    # Slack answers some downloads with a redirect (a PDF's url_private → slack-files.com, curie-eng/curie#2718).
    redirect_to: str | None = None

    def as_stub(self) -> dict[str, Any]:
        """How an event shows a file shared in a Slack Connect channel: no name, no link until files.info
        (docs.slack.dev/apis/slack-connect/using-slack-connect-api-methods, "Working with files")."""
        return {
            "id": self.id,
            "mode": "file_access",
            "file_access": "check_file_info",
            "created": 0,
            "timestamp": 0,
            "user": "",
        }

    def as_event_file(self, base_url: str) -> dict[str, Any]:
        quoted = urllib.parse.quote(self.name)
        return {
            "id": self.id,
            "name": self.name,
            "title": self.name,
            "mimetype": self.mimetype,
            "filetype": self.name.rsplit(".", 1)[-1],
            "size": len(self.data),
            "url_private": f"{base_url}/files-pri/{self.id}/{quoted}",
            "url_private_download": f"{base_url}/files-pri/{self.id}/download/{quoted}",
        }


@dataclass(slots=True)
class Upload:
    file_id: str
    filename: str
    data: bytes = b""
    title: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass(slots=True)
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]
    ack: dict[str, Any] | None = None
    acked: asyncio.Event = field(default_factory=asyncio.Event)


def _args_from_query_and_body(request: web.Request, raw: bytes) -> dict[str, Any]:
    """Slack accepts arguments as query string, form body or JSON; slack_sdk uses all three."""
    args: dict[str, Any] = dict(request.query)
    ctype = request.content_type
    if raw and ctype == "application/json":
        body = json.loads(raw)
        if isinstance(body, dict):
            args.update(body)
    elif raw and ctype in ("application/x-www-form-urlencoded", ""):
        args.update(dict(urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
    return args


def _json_arg(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class FakeSlack:
    """The far end of every Slack call the bot makes, on 127.0.0.1 and a free port."""

    def __init__(
        self,
        *,
        team_id: str = "T1",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        rules: SlackRules | None = None,
        scopes: Iterable[str] | None = None,
    ) -> None:
        self.rules = rules or SlackRules()
        self.scopes = frozenset(manifest_scopes() if scopes is None else scopes)  # what the app was granted
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, str]] = {k: dict(v) for k, v in DEFAULT_USERS.items()}
        self._posted_at: dict[str, list[float]] = {}  # channel → times of recent chat.postMessage calls
        self._response_uses: dict[str, int] = {}
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_token = bot_token
        self.app_token = app_token
        self.calls: list[Call] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.modals: list[dict[str, Any]] = []  # views.open, in order (each with the id it was given)
        self._triggers: dict[str, float] = {}  # trigger_id → when the "user" clicked (monotonic)
        self.uploads: dict[str, Upload] = {}
        self.shared_files: dict[str, SharedFile] = {}
        self.responses: list[dict[str, Any]] = []  # bodies POSTed to response_url
        self.usergroups: dict[str, list[str]] = {}  # user group id (S…) → member user ids
        self.statuses: list[dict[str, Any]] = []  # assistant.threads.setStatus calls accepted, in order
        self.suggested_prompts: dict[str, dict[str, Any]] = {}  # DM channel → its Messages tab's prompts
        self.envelopes: dict[str, Envelope] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_connected = asyncio.Event()
        self._faults: list[Fault] = []
        self._lags: dict[str, list[float]] = {}
        self.lagging = 0  # lagged requests not carried out yet
        self._ids = itertools.count(1)
        self._ts_base = int(time.time())
        self._ts_seq = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{file_id}/download/{name}", self._download)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        app.router.add_post("/response/{id}", self._response_url)
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        # aiohttp keeps the asyncio Server private and types it as AbstractServer; its sockets give the port.
        assert server is not None and server.sockets  # type: ignore[attr-defined]  # see above
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # see above
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ----------------------------------------------------------------- helpers for tests

    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: str | None = "0",
        error: str | None = None,
    ) -> None:
        """The next ``times`` calls to ``method`` answer ``status`` (429 carries ``Retry-After``)."""
        headers: dict[str, str] = {}
        body: dict[str, Any] | str
        if status == 429:
            if retry_after is not None:
                headers["Retry-After"] = retry_after
            body = {"ok": False, "error": error or "ratelimited"}
        elif status == 200:
            body = {"ok": False, "error": error or "fatal_error"}
        else:
            body = f"<html><body>{status} Server Error</body></html>"
        self._faults.append(Fault(method, status, times, headers, body))

    def lag(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` take effect, and are answered, only ``seconds`` after they
        arrive, whether or not the caller is still waiting (a request that reached Slack is carried out)."""
        self._lags[method] = self._lags.get(method, []) + [seconds] * times

    def add_channel(self, channel_id: str, *, kind: str, name: str = "", member: bool = True) -> Channel:
        """Declare a conversation: ``kind`` channel, group (private), im or mpim; ``member``: the bot is in it."""
        channel = Channel(channel_id, kind=kind, name=name or default_channel(channel_id).name, member=member)
        self.channels[channel_id] = channel
        return channel

    def channel(self, channel_id: str) -> Channel:
        return self.channels.get(channel_id) or default_channel(channel_id)

    def user_event(self, event: dict[str, Any]) -> None:
        """An event Slack is about to send the bot: a person's message (or mention) is now in the conversation,
        so the bot can reply in its thread and conversations.replies returns it."""
        if event.get("type") not in ("message", "app_mention") or not event.get("ts"):
            return
        if event.get("subtype") not in (None, "file_share", "thread_broadcast"):
            return
        channel = str(event.get("channel", ""))
        messages = self.messages.setdefault(channel, [])
        if any(m["ts"] == event["ts"] for m in messages):
            return  # the app_mention and the message event of one message
        message: dict[str, Any] = {
            k: event[k] for k in ("type", "user", "text", "ts", "thread_ts", "files") if k in event
        }
        message["type"] = "message"
        messages.append(message)
        messages.sort(key=lambda m: float(m["ts"]))

    def share_file(
        self,
        name: str,
        data: bytes,
        mimetype: str,
        *,
        slack_connect: bool = False,
        redirect_to: str | None = None,
    ) -> dict[str, Any]:
        """A file a user shared; returns the file object an event carries (a stub in a Slack Connect channel).
        ``redirect_to``: its download answers with a redirect there."""
        shared = SharedFile(
            id=f"F{next(self._ids):08d}",
            name=name,
            mimetype=mimetype,
            data=data,
            slack_connect=slack_connect,
            redirect_to=redirect_to,
        )
        self.shared_files[shared.id] = shared
        return shared.as_stub() if slack_connect else shared.as_event_file(self.url)

    def response_url(self) -> str:
        return f"{self.url}/response/{next(self._ids)}"

    def trigger_id(self) -> str:
        """A fresh trigger_id, as Slack sends with an interaction (for ``views.open`` within 3 s, once)."""
        trigger = f"{next(self._ids)}.{self._ts_base}.fake{next(self._ids):04d}"
        self._triggers[trigger] = time.monotonic()
        return trigger

    def calls_to(self, method: str, where: Callable[[Call], bool] | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (where is None or where(c))]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until ``count`` calls to ``method`` (matching ``where``) are recorded; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.calls_to(method, where)
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [c.method for c in self.calls]
                raise AssertionError(
                    f"{len(found)} of {count} {method} calls after {timeout}s; calls: {seen}"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))
            except TimeoutError:
                pass

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))
            except TimeoutError:
                pass

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The parent message (when we posted it) followed by every reply, oldest first."""
        return [
            m
            for m in self.messages.get(channel, [])
            if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
        ]

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [m for m in self.messages.get(channel, []) if m.get("thread_ts") == thread_ts]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        for m in self.messages.get(channel, []):
            if m["ts"] == ts:
                return m
        raise KeyError(f"no message {ts} in {channel}")

    # ----------------------------------------------------------------- socket mode

    async def send_envelope(self, type_: str, payload: dict[str, Any]) -> Envelope:
        """Push one Socket Mode envelope (``events_api``, ``slash_commands``, ``interactive``) to the bot."""
        await asyncio.wait_for(self.socket_connected.wait(), 10)
        envelope = Envelope(envelope_id=f"env-{next(self._ids)}", type=type_, payload=payload)
        self.envelopes[envelope.envelope_id] = envelope
        message = {
            "envelope_id": envelope.envelope_id,
            "type": type_,
            "accepts_response_payload": type_ != "events_api",
            "payload": payload,
        }
        if type_ == "events_api":
            self.user_event(payload.get("event") or {})
            message["retry_attempt"] = 0
            message["retry_reason"] = ""
        await self.sockets[-1].send_str(json.dumps(message))
        return envelope

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        )
        self.socket_connected.set()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    envelope = self.envelopes.get(data.get("envelope_id", ""))
                    if envelope is not None:
                        envelope.ack = data
                        envelope.acked.set()
                        self._changed.set()
        finally:
            self.sockets.remove(ws)
            if not self.sockets:
                self.socket_connected.clear()
        return ws

    # ----------------------------------------------------------------- HTTP handlers

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._ts_seq):06d}"

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._changed.set()

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        args = _args_from_query_and_body(request, raw)
        headers = dict(request.headers)
        lag = self._lags.get(method)
        if lag:
            self._lags[method] = lag[1:]
            # Slack carries out a request it has received even when the caller stops waiting for the answer.
            return await asyncio.shield(self._answer_later(lag[0], method, args, headers))
        return self._answer(method, args, headers)

    async def _answer_later(
        self, delay: float, method: str, args: dict[str, Any], headers: dict[str, str]
    ) -> web.Response:
        self.lagging += 1
        try:
            await asyncio.sleep(delay)
            return self._answer(method, args, headers)
        finally:
            self.lagging -= 1

    def _answer(self, method: str, args: dict[str, Any], headers: dict[str, str]) -> web.Response:
        fault = self._take_fault(method)
        if fault is not None:
            self._record(Call(method, args, headers, fault.status, fault.body))
            if isinstance(fault.body, dict):
                return web.json_response(fault.body, status=fault.status, headers=fault.headers)
            return web.Response(
                text=fault.body, status=fault.status, headers=fault.headers, content_type="text/html"
            )
        token = headers.get("Authorization", "").removeprefix("Bearer ").strip() or args.get("token", "")
        expected = self.app_token if method in APP_TOKEN_METHODS else self.bot_token
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if token != expected:
            body: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
        elif handler is None:
            body = {"ok": False, "error": "unknown_method"}
        elif method in APP_TOKEN_METHODS:
            body = handler(args)
        else:
            SESSION.calls[(method, self._kind_of(args))] += 1
            body = self._missing_scope(method, args) or self._limited(method, args) or handler(args)
        status = 429 if body.get("error") == "ratelimited" else 200
        self._record(Call(method, args, headers, status, body))
        extra = {"Retry-After": str(body.pop("retry_after"))} if status == 429 else None
        return web.json_response(body, status=status, headers=extra)

    def _kind_of(self, args: dict[str, Any]) -> str | None:
        channel = args.get("channel") or args.get("channel_id")
        return self.channel(str(channel)).kind if channel else None

    def _missing_scope(self, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """A method the app has no scope for (docs.slack.dev/reference/methods/<method>, error missing_scope)."""
        needed = method_scope(method, self._kind_of(args))
        if needed is None or needed in self.scopes:
            return None
        return {
            "ok": False,
            "error": "missing_scope",
            "needed": needed,
            "provided": ",".join(sorted(self.scopes)),
        }

    def _limited(self, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """About one chat.postMessage per second per channel, bursts allowed; past that HTTP 429 and Retry-After
        (docs.slack.dev/apis/web-api/rate-limits, "Posting messages")."""
        interval = self.rules.post_interval_seconds
        if method != "chat.postMessage" or interval <= 0:
            return None
        now = time.monotonic()
        recent = [t for t in self._posted_at.get(str(args.get("channel")), []) if now - t < interval]
        if len(recent) < self.rules.post_burst:
            self._posted_at[str(args.get("channel"))] = [*recent, now]
            return None
        wait = self.rules.retry_after_seconds or max(1, math.ceil(recent[0] + interval - now))
        return {"ok": False, "error": "ratelimited", "retry_after": wait}

    def _in_conversation(self, channel_id: str) -> str | None:
        """The error for a bot that is not in ``channel_id`` (chat.postMessage's not_in_channel /
        channel_not_found, which conversations.replies, files sharing and setStatus answer alike)."""
        channel = self.channel(channel_id)
        if not channel_id:
            return "channel_not_found"
        if self.rules.membership and not channel.member:
            return not_a_member_error(channel)
        return None

    def _thread_error(self, channel_id: str, thread_ts: str | None) -> str | None:
        """chat.postMessage's thread_ts must be a message there, and not a reply ("use its parent instead")."""
        if not thread_ts or not self.rules.threads_must_exist:
            return None
        parent = next((m for m in self.messages.get(channel_id, []) if m["ts"] == thread_ts), None)
        if parent is None or parent.get("thread_ts") not in (None, thread_ts):
            return "invalid_thread_ts"
        return None

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file_id"])
        data = await request.read()
        if upload is None:
            self._record(Call("upload", {}, dict(request.headers), 404, "unknown upload"))
            return web.Response(status=404, text="unknown upload")
        upload.data = data
        self._record(Call("upload", {"file_id": upload.file_id, "length": len(data)}, {}, 200, "OK"))
        return web.Response(text=f"OK - {len(data)}")

    async def _download(self, request: web.Request) -> web.Response:
        shared = self.shared_files.get(request.match_info["file_id"])
        auth = request.headers.get("Authorization", "")
        self._record(
            Call("download", {"file_id": request.match_info["file_id"]}, dict(request.headers), 200, "")
        )
        if shared is None:
            return web.Response(status=404, text="not found")
        if shared.redirect_to:
            raise web.HTTPFound(shared.redirect_to)
        if auth != f"Bearer {self.bot_token}" or "files:read" not in self.scopes:
            # Slack answers an unauthenticated file request with its sign-in page, not an error status.
            return web.Response(text="<!DOCTYPE html><html>Sign in to Slack</html>", content_type="text/html")
        SESSION.calls[("download", None)] += 1
        return web.Response(body=shared.data, content_type=shared.mimetype)

    async def _response_url(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        url_id = request.match_info["id"]
        uses = self._response_uses.get(url_id, 0) + 1
        self._response_uses[url_id] = uses
        if uses > self.rules.response_url_uses:  # "up to 5 times within 30 minutes"
            self._record(Call("response_url", body, dict(request.headers), 404, "used_url"))
            return web.Response(status=404, text="used_url")
        error = check_blocks(body.get("blocks"), "message") if self.rules.validate_blocks else None
        if error:
            self._record(Call("response_url", body, dict(request.headers), 400, error))
            return web.Response(status=400, text=error)
        self.responses.append(body)
        self._record(Call("response_url", body, dict(request.headers), 200, "ok"))
        return web.Response(text="ok")

    # ----------------------------------------------------------------- Web API methods

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "gemini",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}

    def _check_blocks(self, args: dict[str, Any], surface: str = "message") -> str | None:
        blocks = _json_arg(args.get("blocks")) or []
        error = check_blocks(blocks, surface)
        if error == "invalid_blocks" and not self.rules.validate_blocks and isinstance(blocks, list):
            error = None if len(blocks) <= 50 else error
        if error:
            return error
        if surface == "message" and not args.get("text") and not blocks:
            return "no_text"
        return None

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        error = (
            self._in_conversation(channel)
            or self._thread_error(channel, args.get("thread_ts"))
            or self._check_blocks(args)
        )
        if error:
            return {"ok": False, "error": error}
        message = {
            "type": "message",
            "ts": self._next_ts(),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": (args.get("text") or "")[:40_000],
            "blocks": _json_arg(args.get("blocks")) or [],
        }
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        metadata = _json_arg(args.get("metadata"))
        if metadata:
            message["metadata"] = metadata
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        if len(args.get("text") or "") > UPDATE_TEXT_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        error = self._in_conversation(str(args.get("channel") or "")) or self._check_blocks(args)
        if error:
            return {"ok": False, "error": error}
        try:
            message = self.message(args.get("channel", ""), args.get("ts", ""))
        except KeyError:
            return {"ok": False, "error": "message_not_found"}
        if message.get("user") != self.bot_user_id:  # "cant_update_message": not the bot's own message
            return {"ok": False, "error": "cant_update_message"}
        if message.get("streaming"):  # chat.update on a stream still open (docs: chat.startStream)
            return {"ok": False, "error": "streaming_state_conflict"}
        message["text"] = args.get("text") or ""
        message["blocks"] = _json_arg(args.get("blocks")) or []
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": message["text"]}

    # Chat streaming (docs.slack.dev/reference/methods/chat.startStream, chat.appendStream, chat.stopStream):
    # startStream opens a message as a reply in a thread (thread_ts is required; "streamed messages should
    # always be replies to a user request"), with recipient_team_id and recipient_user_id "required when
    # starting a streaming conversation outside of a DM"; markdown_text is limited to 12,000 characters per
    # call; appendStream and stopStream take the stream's ts and answer message_not_in_streaming_state for a
    # message that is not an open stream (never one, or stopped: python-slack-sdk#1859); chat.update on an open
    # stream answers streaming_state_conflict. Chunks: markdown_text, task_update (id, title, status pending |
    # in_progress | complete | error), plan_update (title).

    def _m_chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        error = self._in_conversation(channel) or self._thread_error(channel, args.get("thread_ts"))
        if error:
            return {"ok": False, "error": error}
        if self.channel(channel).kind != "im" and not (
            args.get("recipient_team_id") and args.get("recipient_user_id")
        ):
            return {"ok": False, "error": "invalid_arguments"}
        if args.get("task_display_mode") not in (None, "timeline", "plan"):
            return {"ok": False, "error": "invalid_arguments"}
        text, error = _stream_content(args)
        if error:
            return {"ok": False, "error": error}
        message = {
            "type": "message",
            "ts": self._next_ts(),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "thread_ts": args["thread_ts"],
            "text": text,
            "blocks": [],
            "streaming": True,
            "stream_calls": 1,
            "tasks": {},
            "recipient": (args.get("recipient_team_id"), args.get("recipient_user_id")),
        }
        _take_tasks(message, args)
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _open_stream(self, args: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        channel = str(args.get("channel") or "")
        error = self._in_conversation(channel)
        if error:
            return None, error
        try:
            message = self.message(channel, str(args.get("ts") or ""))
        except KeyError:
            return None, "message_not_found"
        if not message.get("streaming"):
            return None, "message_not_in_streaming_state"
        return message, None

    def _m_chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        message, error = self._open_stream(args)
        text, content_error = _stream_content(args)
        if error or content_error or message is None:
            return {"ok": False, "error": error or content_error}
        message["text"] += text
        message["stream_calls"] += 1
        _take_tasks(message, args)
        return {"ok": True, "channel": args["channel"], "ts": message["ts"]}

    def _m_chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        message, error = self._open_stream(args)
        text, content_error = _stream_content(args)
        blocks = _json_arg(args.get("blocks")) or []
        if not error and not content_error and blocks:
            content_error = check_blocks(blocks, "message")
        if error or content_error or message is None:
            return {"ok": False, "error": error or content_error}
        message["text"] += text
        message["stream_calls"] += 1
        message["blocks"] = blocks
        message["streaming"] = False
        _take_tasks(message, args)
        return {"ok": True, "channel": args["channel"], "ts": message["ts"], "message": message}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        error = self._in_conversation(str(args.get("channel") or "")) or self._check_blocks(args)
        if error:
            return {"ok": False, "error": error}
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """The parent and every reply, oldest first, in pages of ``limit`` (at most 1000) with a cursor
        (docs.slack.dev/reference/methods/conversations.replies)."""
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        error = self._in_conversation(channel)
        if error:
            return {"ok": False, "error": error}
        found = self.thread(channel, ts)
        if not found:
            return {"ok": False, "error": "thread_not_found"}
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = min(REPLIES_LIMIT, int(args.get("limit") or REPLIES_LIMIT))
        start = int(args.get("cursor") or 0)
        page = found[start : start + limit]
        messages = []
        for m in page:
            copy = dict(m)
            if not with_metadata:
                copy.pop("metadata", None)
            messages.append(copy)
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        if len(args.get("alt_txt") or "") > 1000:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):08d}"
        self.uploads[file_id] = Upload(file_id=file_id, filename=args["filename"])
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = _json_arg(args.get("files")) or []
        channel = str(args.get("channel_id") or "")
        if channel:
            error = self._in_conversation(channel) or self._thread_error(channel, args.get("thread_ts"))
            if error:
                return {"ok": False, "error": error}
        done = []
        for item in files:
            upload = self.uploads.get(item.get("id", ""))
            if upload is None or not upload.data:
                return {"ok": False, "error": "file_not_found"}
            upload.title = item.get("title")
            upload.channel_id = args.get("channel_id")
            upload.thread_ts = args.get("thread_ts")
            upload.completed = True
            done.append(
                {
                    "id": upload.file_id,
                    "name": upload.filename,
                    "title": upload.title,
                    "size": len(upload.data),
                }
            )
        if channel:
            message = {
                "type": "message",
                "ts": self._next_ts(),
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "text": args.get("initial_comment") or "",
                "files": done,
                "upload": True,
            }
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "files": done}

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """The whole file object, download links included (what a Slack Connect stub lacks)."""
        shared = self.shared_files.get(str(args.get("file") or ""))
        if shared is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": shared.as_event_file(self.url)}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user") or "")
        known = self.users.get(user_id)
        if known is None:
            return {"ok": False, "error": "user_not_found"}
        profile = {"display_name": known["display_name"], "real_name": known["real_name"]}
        return {
            "ok": True,
            "user": {
                "id": user_id,
                "name": known["name"],
                "real_name": known["real_name"],
                "profile": profile,
            },
        }

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _json_arg(args.get("view"))
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if self._check_blocks({"blocks": view.get("blocks")}, "home"):
            return {"ok": False, "error": "invalid_arguments"}  # views.publish reports bad blocks so
        self.views[args.get("user_id", "")] = view
        return {"ok": True, "view": {"id": "V1", **view}}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        # Slack's views.open reference: a trigger_id is good for 3 seconds and for one view only.
        trigger = args.get("trigger_id", "")
        issued = self._triggers.get(trigger)
        if issued is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        if issued < 0:
            return {"ok": False, "error": "exchanged_trigger_id"}
        if time.monotonic() - issued > TRIGGER_SECONDS:
            return {"ok": False, "error": "expired_trigger_id"}
        view = _json_arg(args.get("view"))
        if not isinstance(view, dict) or _modal_problem(view):
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": [_modal_problem(view)]},
            }
        self._triggers[trigger] = -1.0
        opened = {"id": f"V{next(self._ids):08d}", "team_id": self.team_id, "state": {"values": {}}, **view}
        self.modals.append(opened)
        return {"ok": True, "view": opened}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://api.slack.com/methods/usergroups.users.list: `usergroup` required, an unknown id answers
        # no_such_subteam (its scope, usergroups:read, is checked with every method's: slack_scopes.py).
        group = args.get("usergroup")
        if not group:
            return {"ok": False, "error": "invalid_arguments"}
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _m_assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        # docs.slack.dev/reference/methods/assistant.threads.setStatus: loading_messages, up to 10 of them.
        if not args.get("channel_id") or not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        loading = _json_arg(args.get("loading_messages"))
        if loading is not None and (
            not isinstance(loading, list) or len(loading) > 10 or not all(isinstance(m, str) for m in loading)
        ):
            return {"ok": False, "error": "invalid_arguments"}
        error = self._in_conversation(str(args["channel_id"]))
        if error:
            return {"ok": False, "error": error}
        self.statuses.append(dict(args))
        return {"ok": True}

    def _m_assistant_threads_setSuggestedPrompts(self, args: dict[str, Any]) -> dict[str, Any]:
        # docs.slack.dev/reference/methods/assistant.threads.setSuggestedPrompts: prompts (title, message), at
        # most 4; in the agent view (the Messages tab) without thread_ts, where a thread_ts makes it fail
        # silently (shared/notes/slack.md, section 0): recorded here, but not as the tab's prompts.
        prompts = _json_arg(args.get("prompts"))
        if not args.get("channel_id") or not isinstance(prompts, list) or not 1 <= len(prompts) <= 4:
            return {"ok": False, "error": "invalid_arguments"}
        if not all(isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts):
            return {"ok": False, "error": "invalid_arguments"}
        error = self._in_conversation(str(args["channel_id"]))
        if error:
            return {"ok": False, "error": error}
        if not args.get("thread_ts"):
            self.suggested_prompts[str(args["channel_id"])] = {"title": args.get("title"), "prompts": prompts}
        return {"ok": True}


# Slack's reference for modal views (api.slack.com/reference/surfaces/views) and for the plain-text input
# element: title, submit and close are plain_text of at most 24 characters; private_metadata at most 3,000;
# at most 100 blocks; a plain_text_input's max_length is at most 3,000 and its initial_value no longer.
TRIGGER_SECONDS = 3.0
VIEW_TEXT_LIMIT = 24
PRIVATE_METADATA_LIMIT = 3000
INPUT_LIMIT = 3000


STREAM_TEXT_LIMIT = 12_000  # markdown_text: "Limit this field to 12,000 characters" (per call)
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})


def _stream_content(args: dict[str, Any]) -> tuple[str, str | None]:
    """The markdown a stream call adds (its markdown_text and markdown_text chunks), or the error for it."""
    chunks = _json_arg(args.get("chunks")) or []
    if not isinstance(chunks, list):
        return "", "invalid_arguments"
    text = str(args.get("markdown_text") or "")
    for chunk in chunks:
        kind = chunk.get("type") if isinstance(chunk, dict) else None
        if kind == "markdown_text" and isinstance(chunk.get("text"), str):
            text += chunk["text"]
        elif kind == "task_update":
            if not chunk.get("id") or not chunk.get("title") or chunk.get("status") not in TASK_STATUSES:
                return "", "invalid_arguments"
        elif kind != "plan_update" or not chunk.get("title"):
            return "", "invalid_arguments"
    if len(text) > STREAM_TEXT_LIMIT:
        return "", "msg_too_long"
    return text, None


def _take_tasks(message: dict[str, Any], args: dict[str, Any]) -> None:
    for chunk in _json_arg(args.get("chunks")) or []:
        if chunk.get("type") == "task_update":
            message["tasks"][chunk["id"]] = {"title": chunk["title"], "status": chunk["status"]}
        elif chunk.get("type") == "plan_update":
            message["plan_title"] = chunk["title"]


def _modal_problem(view: Any) -> str:
    """Why Slack would refuse ``view`` as a modal ('' when it would not)."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        return "view.type must be modal"
    for name in ("title", "submit", "close"):
        text = view.get(name)
        if text is None and name != "title":
            continue
        if not isinstance(text, dict) or text.get("type") != "plain_text" or not text.get("text"):
            return f"view.{name} must be plain_text"
        if len(text["text"]) > VIEW_TEXT_LIMIT:
            return f"view.{name} must be at most {VIEW_TEXT_LIMIT} characters"
    if len(view.get("private_metadata") or "") > PRIVATE_METADATA_LIMIT:
        return "view.private_metadata is too long"
    blocks = view.get("blocks") or []
    if not isinstance(blocks, list) or not blocks or len(blocks) > 100:
        return "view.blocks must hold 1 to 100 blocks"
    for block in blocks:
        if block.get("type") == "section" and len(block.get("text", {}).get("text", "")) > 3000:
            return "a section's text must be at most 3,000 characters"
        if block.get("type") == "input":
            element = block.get("element") or {}
            limit = element.get("max_length", INPUT_LIMIT)
            if not block.get("block_id") or not element.get("action_id"):
                return "an input block needs a block_id and its element an action_id"
            if element.get("type") == "plain_text_input" and (
                limit > INPUT_LIMIT or len(element.get("initial_value") or "") > limit
            ):
                return "plain_text_input: max_length at most 3,000 and initial_value within it"
    return ""


# --------------------------------------------------------------------- requests as Slack signs them


def signed_headers(
    body: str, content_type: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {"content-type": content_type, "x-slack-request-timestamp": ts, "x-slack-signature": signature}


def slash_command_body(
    text: str,
    *,
    user_id: str = "U1",
    channel_id: str = "C1",
    team_id: str = "T1",
    response_url: str = "http://127.0.0.1:9/unused",
    command: str = "/gemini",
    channel_name: str | None = None,
    as_sent: bool = False,
) -> str:
    """A slash command's form body, ``text`` being what the person typed (escaped here as Slack escapes it), or
    with ``as_sent`` the text exactly as Slack sends it."""
    SESSION.commands += 1
    trigger = hashlib.sha1(f"{text}{time.time_ns()}".encode()).hexdigest()[:12]
    return urllib.parse.urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "team_domain": "fake",
            "channel_id": channel_id,
            "channel_name": channel_name or default_channel(channel_id).name,
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text if as_sent else slack_text(text),
            "api_app_id": "A1",
            "response_url": response_url,
            "trigger_id": f"trigger.{trigger}",
        }
    )


_event_ids = itertools.count(1)


def event_envelope(
    event: dict[str, Any], *, team_id: str = "T1", event_id: str | None = None
) -> dict[str, Any]:
    """An ``event_callback`` body as the Events API sends it (its text as the test wrote it: see ``slack_text``)."""
    SESSION.events[event_subscription(event)] += 1
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": "A1",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{time.time_ns()}{next(_event_ids)}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def block_action_body(
    action_id: str,
    value: str,
    *,
    user_id: str = "U1",
    team_id: str = "T1",
    channel_id: str = "C1",
    message_ts: str = "",
    response_url: str = "http://127.0.0.1:9/unused",
    trigger_id: str | None = None,
    action_type: str = "button",
) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "team_id": team_id},
        "team": {"id": team_id, "domain": "fake"},
        "api_app_id": "A1",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id},
        "channel": {"id": channel_id, "name": "general"},
        "message": {"ts": message_ts, "type": "message"},
        # One per click, as Slack sends it.
        "trigger_id": trigger_id or f"trigger.{time.time_ns()}.{next(_event_ids)}",
        "response_url": response_url,
        "actions": [
            {"action_id": action_id, "block_id": "b", "value": value, "type": action_type, "action_ts": "1"}
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def view_submission_body(
    view: dict[str, Any], values: dict[str, dict[str, Any]], *, user_id: str = "U1", team_id: str = "T1"
) -> str:
    """A ``view_submission`` of a modal the bot opened (``view`` as ``views.open`` returned it), with the
    inputs' ``values`` as Slack sends them: ``{block_id: {action_id: {"type": …, "value": …}}}``."""
    submitted = {**view, "state": {"values": values}, "app_id": "A1", "bot_id": "BBOT"}
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "team_id": team_id, "username": user_id.lower(), "name": user_id.lower()},
        "api_app_id": "A1",
        "token": "legacy-verification-token",
        "trigger_id": f"trigger.view.{time.time_ns()}",
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})
