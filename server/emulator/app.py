"""HTTP routes: the Interactions API under any version prefix, and the ``/_emulator/*`` control endpoints.

Order of checks for an API request: route → count it in the stats → API key → fault switches → handler.
A request that names an interaction is also kept with its replica header until it is answered (a stream: until
it ends), see ``stats.UpstreamRequest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import errors
from .errors import JSON_MEDIA_TYPE, ApiError, invalid_argument
from .faults import REQUEST_ACTIONS, STREAM_ACTIONS, FaultRule, RequestInfo
from .parsing import parse_create
from .sse import EventStream, stream_response
from .stats import REPLICA_HEADER

if TYPE_CHECKING:
    from .emulator import Emulator

API_PATH = re.compile(
    r"^(?P<prefix>(?:/[^/]+)*)/interactions(?:/(?P<id>[^/:]+)(?P<action>/cancel|:cancel)?)?/?$"
)
WEBHOOKS_PATH = re.compile(
    r"^(?P<prefix>(?:/[^/]+)*)/webhooks(?:/(?P<id>[^/:]+)(?P<action>:ping|:rotateSigningSecret)?)?/?$"
)
RAW_SEND_KEY = "emulator.raw_send"
log = logging.getLogger(__name__)


class EmulatorApp(Starlette):
    """Starlette, plus the server's own ``send`` kept in the scope so a fault can abort the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND_KEY] = send
        await super().__call__(scope, receive, send)


def build_app(emu: Emulator) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        emu.mark_started()
        yield
        await emu.aclose()

    async def api(request: Request) -> Response:
        emu.bind_loop()
        try:
            response = await _api(emu, request)
        except ApiError as err:
            response = err.to_response()
        except Exception:  # a defect in the emulator: still answer with Google's envelope
            log.exception("emulator failed on %s %s", request.method, request.url.path)
            response = ApiError(500).to_response()
        emu.stats.record_status(response.status_code)
        _end_when_answered(emu, request, response)
        return response

    async def stats(_request: Request) -> Response:
        return _json(emu.stats.snapshot())

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            emu.faults.clear()
        elif request.method == "POST":
            try:
                emu.faults.configure(json.loads(await request.body() or b"{}"))
            except (ValueError, TypeError) as err:
                return ApiError(400, f"Bad fault request: {err}").to_response()
        return _json(emu.faults.snapshot())

    async def reset(_request: Request) -> Response:
        emu.reset_now()
        return _json({"reset": True})

    async def config(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = json.loads(await request.body() or b"{}")
            except ValueError as err:
                return ApiError(400, f"Bad config request: {err}").to_response()
            for key, value in changes.items():
                if not hasattr(emu.config, key):
                    return ApiError(400, f"Unknown config field {key!r}.").to_response()
                setattr(emu.config, key, type(getattr(emu.config, key))(value))
        return _json(emu.config.to_dict())

    async def webhooks(request: Request) -> Response:
        if request.method == "DELETE":
            emu.webhooks.controls = type(emu.webhooks.controls)()
        elif request.method == "POST":
            try:
                emu.webhooks.configure(json.loads(await request.body() or b"{}"))
            except (ValueError, TypeError) as err:
                return ApiError(400, f"Bad webhook control request: {err}").to_response()
        return _json(emu.webhooks.snapshot())

    async def health(_request: Request) -> Response:
        return _json({"ok": True, "running_jobs": emu.running_jobs()})

    async def files(request: Request) -> Response:
        # Like Gemini's own file downloads, the bytes need the API key.
        if not (request.headers.get("x-goog-api-key") or request.query_params.get("key")):
            emu.stats.record_status(401)
            return errors.unauthenticated().to_response()
        data = emu.image_bytes(request.path_params["id"], int(request.path_params["n"]))
        if data is None:
            return ApiError(404, "File not found.").to_response()
        mime = "image/jpeg" if data[:2] == b"\xff\xd8" else "image/png"
        return Response(data, media_type=mime)

    routes = [
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/config", config, methods=["GET", "POST"]),
        Route("/_emulator/webhooks", webhooks, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/files/{id}/{n:int}", files, methods=["GET"]),
        Route("/{path:path}", api, methods=["GET", "POST", "DELETE", "PUT", "PATCH"]),
    ]
    return EmulatorApp(routes=routes, lifespan=lifespan)


@dataclass
class _Call:
    """An API request, classified."""

    info: RequestInfo
    body: Any = None
    body_error: ApiError | None = None
    version: str = "v1"


async def _classify(request: Request) -> _Call:
    match = API_PATH.match(request.url.path)
    method, query = request.method, request.query_params
    if match is None:
        raise ApiError(404, f"Method not found: {method} {request.url.path}")
    interaction_id, action = match.group("id"), match.group("action")
    version = (match.group("prefix") or "/v1").rsplit("/", 1)[-1]
    if method == "POST" and interaction_id is None:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return _Call(RequestInfo("create"), body_error=invalid_argument("Invalid JSON payload received."))
        streaming = isinstance(body, dict) and body.get("stream") is True
        return _Call(RequestInfo("create", streaming=streaming), body, version=version)
    if method == "POST" and action is not None:
        return _Call(RequestInfo("cancel", interaction_id=interaction_id))
    if method == "GET" and interaction_id is not None and action is None:
        streaming = _flag(query.get("stream"))
        resumed = streaming and bool(query.get("last_event_id"))
        return _Call(RequestInfo("stream" if streaming else "get", streaming, resumed, interaction_id))
    if method == "DELETE" and interaction_id is not None and action is None:
        return _Call(RequestInfo("delete", interaction_id=interaction_id))
    raise ApiError(404, f"Method not found: {method} {request.url.path}")


def _check_key(request: Request) -> str:
    key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    if not key:
        raise errors.unauthenticated()
    if key.startswith("bad"):
        raise errors.api_key_invalid()
    if key.startswith("blocked"):
        raise errors.api_key_service_blocked()
    if key.startswith("unrestricted"):
        raise errors.access_token_type_unsupported()
    return key


async def _webhooks_call(emu: Emulator, request: Request, match: re.Match[str]) -> Response:
    """The WebhookService resource (``webhooks.py``)."""
    emu.stats.record_request("webhooks")
    _check_key(request)
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        raise invalid_argument("Invalid JSON payload received.") from None
    answer = emu.webhooks.handle(
        request.method, match.group("id"), match.group("action"), body, request.query_params
    )
    return _json(answer)


async def _api(emu: Emulator, request: Request) -> Response:
    hooks = WEBHOOKS_PATH.match(request.url.path)
    if hooks is not None:
        return await _webhooks_call(emu, request, hooks)
    call = await _classify(request)
    info = call.info
    emu.stats.record_request(info.kind, info.interaction_id)
    if info.interaction_id is not None:
        _begin(emu, request, info.interaction_id, info.kind, streamed=info.streaming)
    key = _check_key(request)
    rule = emu.faults.take(info, REQUEST_ACTIONS)
    if rule is not None:
        early = await _request_fault(emu, request, rule)
        if early is not None:
            return early
    if call.body_error is not None:
        raise call.body_error
    if info.kind == "create":
        return await _create(emu, request, call.body, key, call.version)
    interaction_id = info.interaction_id
    assert interaction_id is not None
    if info.kind == "cancel":
        return _json(emu.cancel(interaction_id).to_json(timeline=True))
    if info.kind == "delete":
        emu.delete(interaction_id)
        return _json({})
    it = emu.lookup(interaction_id, transient=True)
    if info.streaming:
        last_event_id = request.query_params.get("last_event_id")
        start = it.index_after(last_event_id)
        if start is None:
            raise invalid_argument(f"Invalid last_event_id {last_event_id!r} for {it.id}.")
        return stream_response(emu, it, start, emu.faults.take(info, STREAM_ACTIONS))
    include_input = _flag(request.query_params.get("include_input"))
    return _json(it.to_json(timeline=True, include_input=include_input))


async def _create(emu: Emulator, request: Request, body: Any, key: str, version: str) -> Response:
    emu.record_body(body)
    req = parse_create(body)
    emu.check_known(req, version)
    if key.startswith("free") and req.is_agent:
        raise errors.rate_limited(
            f"Agent '{req.agent}' is not available on the free tier. Enable billing to use Deep Research.",
            emu.config.retry_after_seconds,
            quota_id="generate_requests_per_model_per_day",
        )
    it = emu.create(req, str(request.base_url))
    emu.stats.attribute(it.id, "create")
    _begin(emu, request, it.id, "create", streamed=req.stream)
    if req.stream:
        fault = emu.faults.take(RequestInfo("create", True, False, it.id), STREAM_ACTIONS)
        return stream_response(emu, it, 0, fault)
    if not req.background:
        await it.wait_finished()
    return _json(it.to_json(timeline=False))


async def _request_fault(emu: Emulator, request: Request, rule: FaultRule) -> Response | None:
    """Apply a request-level fault; return a response to send, or None to go on normally."""
    match rule.action:
        case "status":
            if rule.status == 429 and rule.reason is None:
                retry = rule.retry_after if rule.retry_after is not None else emu.config.retry_after_seconds
                raise errors.rate_limited(rule.message, retry)
            details = errors.error_info(rule.reason, rule.message) if rule.reason else None
            raise ApiError(rule.status, rule.message, details=details)
        case "delay":
            await asyncio.sleep(rule.seconds)
            return None
        case "hang":
            await _hang(emu, request)
            return Response(b"", status_code=504)
        case "malformed_json":
            return Response(b'{"id": "v1_truncated", "status": "compl', media_type=JSON_MEDIA_TYPE)
        case "reset":
            await _abort_connection(request)
            return Response(b"", status_code=500)
    return None


async def _hang(emu: Emulator, request: Request) -> None:
    """Send nothing until the client disconnects, the emulator stops or ``hang_seconds`` pass."""
    receive = asyncio.ensure_future(_wait_disconnect(request))
    closing = asyncio.ensure_future(emu.wait_closing(emu.config.hang_seconds))
    try:
        await asyncio.wait({receive, closing}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        receive.cancel()
        closing.cancel()


async def _wait_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _abort_connection(request: Request) -> None:
    """Reset the TCP connection (RST) under the server's feet, the way a crashed proxy would."""
    raw_send = request.scope.get(RAW_SEND_KEY)
    transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("the reset-connection fault needs the emulator to run under uvicorn")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    for _ in range(3):  # let the server notice the loss before the app "answers" into the void
        await asyncio.sleep(0)


def _begin(emu: Emulator, request: Request, interaction_id: str, kind: str, *, streamed: bool) -> None:
    replica = request.headers.get(REPLICA_HEADER)
    request.state.upstream = emu.stats.begin_request(interaction_id, kind, replica, streamed=streamed)


def _end_when_answered(emu: Emulator, request: Request, response: Response) -> None:
    """End the request's record now, or for a stream when the stream ends."""
    record = getattr(request.state, "upstream", None)
    if record is None:
        return
    if isinstance(response, EventStream):
        response.on_close = lambda: emu.stats.end_request(record)
    else:
        emu.stats.end_request(record)


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


def _json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type=JSON_MEDIA_TYPE)
