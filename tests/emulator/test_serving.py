"""Starting and stopping the emulator in a thread and in the current event loop."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from server.emulator import EmulatorConfig, run_emulator_in_thread, serve_emulator
from server.emulator.serving import check_loopback

from .conftest import make_client


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.anyio
async def test_serve_emulator_in_current_loop(anyio_backend: str) -> None:
    async with serve_emulator(EmulatorConfig(research_seconds=0.1)) as handle:
        assert handle.url.startswith("http://127.0.0.1:")
        client = make_client(handle.url)
        try:
            it = await client.aio.interactions.create(model="gemini-3.8-flash", input="in-loop")
            assert it.status == "completed"
            # a job still running when the block ends is cancelled, and the port is released
            await client.aio.interactions.create(
                agent="deep-research-preview-04-2026", input="[emulator:stuck] x", background=True
            )
            assert handle.emulator.running_jobs() == 1
        finally:
            await client.aio.aclose()
    assert handle.emulator.running_jobs() == 0
    assert port_is_closed(handle.port)


def test_thread_handle_stops_promptly_despite_a_hanging_request() -> None:
    outcome: list[BaseException | int] = []
    with run_emulator_in_thread(EmulatorConfig()) as handle:
        assert httpx.get(f"{handle.url}/_emulator/health", timeout=5).json()["ok"] is True
        handle.faults.hang(kind="get")

        def hanging_get() -> None:
            try:
                outcome.append(
                    httpx.get(
                        f"{handle.url}/v1/interactions/v1_x", headers={"x-goog-api-key": "k"}, timeout=20
                    ).status_code
                )
            except httpx.HTTPError as err:
                outcome.append(err)

        worker = threading.Thread(target=hanging_get, daemon=True)
        worker.start()
        deadline = time.monotonic() + 5
        while handle.faults.fired["hang"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert handle.faults.fired["hang"] == 1
        started = time.monotonic()
    assert time.monotonic() - started < 3  # stop() released the hang instead of waiting for it
    worker.join(5)
    assert outcome and not worker.is_alive()
    assert port_is_closed(handle.port)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        check_loopback(host)
    with pytest.raises(ValueError, match="loopback"):
        run_emulator_in_thread(host=host)


def test_loopback_hosts_are_accepted() -> None:
    assert check_loopback("127.0.0.1") == "127.0.0.1"
    assert check_loopback("localhost") == "127.0.0.1"
    assert check_loopback("::1") == "::1"
