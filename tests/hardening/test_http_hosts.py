"""DNS-rebinding protection that does not lock out a real hostname: GEMINI_INTERACTIONS_ALLOWED_HOSTS.

A server in a container binds 0.0.0.0; clients reach it as ``mcp.example.com`` (through a proxy, often with no
port in the Host header). Every network test here binds 127.0.0.1: the 0.0.0.0 case builds the app exactly as
the CLI does for 0.0.0.0 and serves it on a loopback socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.emulator import EmulatorHandle
from server.mcp.access import bearer_access
from server.mcp.app import build_server
from server.mcp.auth import allowed_hosts, http_security
from server.mcp.routes import http_app
from tests.support.env import TEST_KEY, host_env, make_settings
from tests.support.mcp import MCP_HEADERS, initialize_request
from tests.support.processes import mcp_http_process
from tests.support.serving import loopback_socket, serving

TOKEN = "hosts-test-token-0123456789abcdefghijklmnop"
INITIALIZE = initialize_request("hosts-test")
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_entries_with_and_without_a_port() -> None:
    env = {"GEMINI_INTERACTIONS_ALLOWED_HOSTS": " mcp.example.com , 10.0.0.5:9000,,"}
    hosts = allowed_hosts(["Other.Example.com:8443"], env)
    assert hosts == ["mcp.example.com", "10.0.0.5:9000", "Other.Example.com:8443"]
    security = http_security("0.0.0.0", 8000, bearer_access(TOKEN), hosts).transport_security
    assert security.enable_dns_rebinding_protection
    assert security.allowed_hosts == [
        "0.0.0.0:8000",
        "mcp.example.com",
        "mcp.example.com:*",
        "10.0.0.5:9000",
        "other.example.com:8443",
    ]
    assert {"https://mcp.example.com", "https://mcp.example.com:*", "http://10.0.0.5:9000"} <= set(
        security.allowed_origins
    )
    ipv6 = http_security("::", 8000, bearer_access(TOKEN), ["::1", "[fd00::5]:9000"]).transport_security
    assert ipv6.allowed_hosts == ["[::]:8000", "[::1]", "[::1]:*", "[fd00::5]:9000"]
    # On loopback the loopback names stay allowed, extras or not.
    local = http_security("127.0.0.1", 8000, None, ["mcp.example.com"]).transport_security
    assert local.allowed_hosts[:4] == ["127.0.0.1:8000", "127.0.0.1:*", "localhost:*", "[::1]:*"]


@asynccontextmanager
async def served_as_if_bound_to_all(
    tmp_path: Path, emulator: EmulatorHandle, extra_hosts: list[str]
) -> AsyncIterator[str]:
    """The app the CLI builds for ``--host 0.0.0.0`` with these extra hosts, served on a loopback socket."""
    sock = loopback_socket()
    security = http_security("0.0.0.0", sock.getsockname()[1], bearer_access(TOKEN), extra_hosts)
    settings = make_settings(tmp_path / "data", emulator.url)
    server = build_server(settings, transport="http", security=security)
    async with serving(http_app(server, host="0.0.0.0", security=security, settings=settings), sock) as base:
        yield base


async def _status(base: str, **headers: str) -> int:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{base}/mcp", json=INITIALIZE, headers=MCP_HEADERS | headers)
    return response.status_code


@pytest.mark.anyio
async def test_a_public_bind_answers_its_real_hostname_and_nothing_else(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    async with served_as_if_bound_to_all(tmp_path, emulator, ["mcp.example.com"]) as base:
        ok: dict[str, Any] = {
            "behind a proxy": await _status(base, Host="mcp.example.com", **AUTH),
            "with a port": await _status(base, Host="mcp.example.com:8000", **AUTH),
            "browser origin": await _status(
                base, Host="mcp.example.com", Origin="https://mcp.example.com", **AUTH
            ),
        }
        refused = {
            "no token": await _status(base, Host="mcp.example.com"),
            "rebinding host": await _status(base, Host="evil.example.com", **AUTH),
            "lookalike host": await _status(base, Host="mcp.example.com.evil.net", **AUTH),
            "foreign origin": await _status(
                base, Host="mcp.example.com", Origin="https://evil.example.com", **AUTH
            ),
        }
        async with httpx.AsyncClient(timeout=10) as client:
            health = await client.get(f"{base}/healthz", headers={"Host": "anything.example"})
    assert ok == {"behind a proxy": 200, "with a port": 200, "browser origin": 200}
    assert refused == {"no token": 401, "rebinding host": 421, "lookalike host": 421, "foreign origin": 403}
    assert health.status_code == 200  # the container's health check does not need the public name


@pytest.mark.anyio
async def test_without_the_setting_a_public_bind_refuses_its_hostname(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    """What the setting is for: without it the real name is refused as a rebinding attempt."""
    async with served_as_if_bound_to_all(tmp_path, emulator, []) as base:
        assert await _status(base, Host="mcp.example.com", **AUTH) == 421


def test_the_console_script_reads_the_setting(emulator: EmulatorHandle, tmp_path: Path) -> None:
    """End to end through ``gemini-interactions-mcp`` on loopback, e.g. behind a reverse proxy on the same host."""
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        GEMINI_INTERACTIONS_MCP_TOKEN=TOKEN,
        GEMINI_INTERACTIONS_ALLOWED_HOSTS="mcp.example.com",
    )
    with mcp_http_process(env, tmp_path / "server.log") as server:
        post = lambda **h: httpx.post(server.url, json=INITIALIZE, headers=MCP_HEADERS | AUTH | h, timeout=10)  # noqa: E731
        assert post(Host="mcp.example.com").status_code == 200
        assert post().status_code == 200  # 127.0.0.1:port still works
        assert post(Host="evil.example.com").status_code == 421


@pytest.mark.anyio
@pytest.mark.parametrize("address", ["127.0.0.2", "127.0.1.1"])
async def test_every_loopback_address_refuses_a_rebinding_host(
    tmp_path: Path, emulator: EmulatorHandle, address: str
) -> None:
    """The SDK checks Host by default only on 127.0.0.1, localhost and ::1; bound to 127.0.0.2 (or 127.0.1.1,
    Debian's address for the hostname) it checked nothing: a page on evil.example resolving to it got in."""
    sock = loopback_socket(address)
    port = sock.getsockname()[1]
    security = http_security(address, port, None)
    settings = make_settings(tmp_path / "data", emulator.url)
    server = build_server(settings, transport="http", security=security)
    async with serving(http_app(server, host=address, security=security, settings=settings), sock) as base:
        outcome = {
            "rebinding host": await _status(base, Host=f"evil.example.com:{port}"),
            "foreign origin": await _status(base, Origin="http://evil.example.com"),
            "its own address": await _status(base, Host=f"{address}:{port}"),
            "its own origin": await _status(base, Origin=f"http://{address}:{port}"),
            "LOCALHOST, in capitals": await _status(base, Host=f"LOCALHOST:{port}"),
        }
    assert outcome == {
        "rebinding host": 421,
        "foreign origin": 403,
        "its own address": 200,
        "its own origin": 200,
        "LOCALHOST, in capitals": 200,
    }


def test_the_console_script_checks_hosts_on_another_loopback_address(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        GEMINI_INTERACTIONS_ALLOWED_HOSTS="MCP.Example.com",
    )
    with mcp_http_process(env, tmp_path / "server.log", host="127.0.0.2") as server:
        post = lambda **h: httpx.post(server.url, json=INITIALIZE, headers=MCP_HEADERS | h, timeout=10)  # noqa: E731
        assert post().status_code == 200
        assert post(Host="evil.example.com").status_code == 421
        assert post(Host="mcp.EXAMPLE.com").status_code == 200  # host names are case-insensitive
