"""Request bodies at both HTTP doors, sent as an attacker sends them: huge and chunked (no Content-Length to
refuse), lying in their Content-Length, unsigned, or malformed. Each is refused after reading at most the limit,
with one log line and no traceback; the memory figures are printed (``-s``) and bounded generously."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from server.emulator import EmulatorHandle
from server.mcp.app import build_server
from server.mcp.auth import http_security
from server.mcp.routes import http_app
from slack_bot.http import EVENTS_PATH
from tests.fakes.slack_api import FakeSlack, signed_headers, slash_command_body
from tests.support.env import make_settings
from tests.support.mcp import MCP_HEADERS
from tests.support.processes import rss_bytes
from tests.support.serving import loopback_socket, serving
from tests.support.slack_process import bot_env, bot_process

from .hostile_clients import chunked_flood, status_of, trickle

pytestmark = pytest.mark.anyio

FLOOD_BYTES = 400 * 1024 * 1024
MEMORY_BOUND = 20 * 1024 * 1024
FORM = "application/x-www-form-urlencoded"


def _lying_length(url: str, path: str) -> int | None:
    """A head claiming a 400 MB body, and 10 bytes of it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {FLOOD_BYTES}\r\n\r\n0123456789".encode()
        )
        return status_of(sock.recv(65536))


def _refusals(lines: list[str]) -> list[str]:
    return [line for line in lines if "refused" in line]


async def test_the_slack_door_refuses_hostile_bodies(emulator: EmulatorHandle, tmp_path: Path) -> None:
    async with FakeSlack() as slack, bot_process(bot_env(slack, emulator, tmp_path / "data")) as bot:
        url = bot.url
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for _ in range(3):  # warm the code paths a refusal takes
                await http.post(EVENTS_PATH, content=b"warm-up")
            await asyncio.sleep(0.5)
            before = rss_bytes(bot.process.pid)
            flood = await asyncio.to_thread(
                chunked_flood, url, EVENTS_PATH, {"Content-Type": FORM}, FLOOD_BYTES
            )
            grown = rss_bytes(bot.process.pid) - before
            print(
                f"\nslack chunked flood: HTTP {flood.status} after {flood.sent / 1048576:.1f} MiB sent "
                f"in {flood.seconds:.2f} s; resident memory grew {grown / 1048576:.1f} MiB"
            )
            assert flood.status == 413
            assert flood.sent < FLOOD_BYTES
            assert grown < MEMORY_BOUND
            assert await asyncio.to_thread(_lying_length, url, EVENTS_PATH) == 413

            seen = len(_refusals(bot.lines))
            body = slash_command_body("hello", response_url=slack.response_url())
            good = signed_headers(body, FORM)
            stale = signed_headers(body, FORM, timestamp=int(time.time()) - 600)  # signed right, too long ago
            hostile: dict[str, tuple[bytes, dict[str, str]]] = {
                "unsigned": (body.encode(), {"content-type": FORM}),
                "malformed timestamp": (body.encode(), good | {"x-slack-request-timestamp": "12e4x"}),
                "not UTF-8": (b"\xff\xfe" + body.encode(), good),
                "not JSON, wrong signature": (b"{nope", good | {"content-type": "application/json"}),
                "other secret": (body.encode(), signed_headers(body, FORM, secret="not-the-secret")),
                "stale": (body.encode(), stale),
            }
            statuses = {
                name: (await http.post(EVENTS_PATH, content=content, headers=headers)).status_code
                for name, (content, headers) in hostile.items()
            }
            assert statuses == dict.fromkeys(hostile, 401)
            assert (await http.post(EVENTS_PATH, content=body, headers=good)).status_code == 200
            await slack.wait_for("chat.postMessage", 1)  # the signed one still gets its answer
            await asyncio.sleep(0.3)
        refusals = _refusals(bot.lines)[seen:]
        assert len(refusals) == len(hostile), "\n".join(refusals)  # one log line each
        assert not any("Traceback" in line or " 500" in line for line in bot.lines), bot.log()


async def echo(request: Request) -> JSONResponse:
    """A route that reads its body, as ``POST /gemini/webhooks`` will."""
    return JSONResponse({"bytes": len(await request.body())})


async def test_every_mcp_route_reads_a_bounded_body(emulator: EmulatorHandle, tmp_path: Path) -> None:
    """``/mcp`` keeps the SDK's own 4 MiB limit; a route added later (here ``/echo``) gets the same guard."""
    sock = loopback_socket()
    security = http_security("127.0.0.1", sock.getsockname()[1], None)
    settings = make_settings(tmp_path / "data", emulator.url)
    server = build_server(settings, transport="http", security=security)
    server.custom_route("/echo", methods=["POST"])(echo)
    async with serving(http_app(server, host="127.0.0.1", security=security, settings=settings), sock) as url:
        floods: dict[str, Any] = {}
        for path in ("/mcp", "/echo"):
            headers = dict(MCP_HEADERS) if path == "/mcp" else {}
            floods[path] = await asyncio.to_thread(chunked_flood, url, path, headers, FLOOD_BYTES)
            print(
                f"\nmcp {path} chunked flood: HTTP {floods[path].status} after {floods[path].sent >> 20} MiB"
            )
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            small = await http.post("/echo", content=b"x" * 1000)
        lying = await asyncio.to_thread(_lying_length, url, "/echo")
    assert {path: flood.status for path, flood in floods.items()} == {"/mcp": 413, "/echo": 413}
    assert all(flood.sent < FLOOD_BYTES for flood in floods.values())
    assert small.json() == {"bytes": 1000}
    assert lying == 413


async def test_a_body_that_trickles_in_gets_408(emulator: EmulatorHandle, tmp_path: Path) -> None:
    sock = loopback_socket()
    security = http_security("127.0.0.1", sock.getsockname()[1], None)
    settings = make_settings(tmp_path / "data", emulator.url, http_body_timeout_seconds=0.5)
    server = build_server(settings, transport="http", security=security)
    server.custom_route("/echo", methods=["POST"])(echo)
    app = http_app(server, host="127.0.0.1", security=security, settings=settings)
    async with serving(app, sock, header_timeout=0.5) as url:
        slow = await trickle(url, _head("/echo"), interval=0.1, deadline=time.monotonic() + 20)
        # Answered without its body being read (405 here; 401, 413, 429 elsewhere), a body that keeps coming
        # slowly must not keep the connection: it is hung up on a head timeout after the answer.
        after_answer = await trickle(url, _head("/healthz"), interval=0.1, deadline=time.monotonic() + 20)
    assert slow.answer == 408 and slow.closed_after is not None
    assert after_answer.answer == 405 and after_answer.closed_after is not None


def _head(path: str) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n".encode()
