"""The emulator as a subprocess (the console script): control endpoints, directives, loopback-only binding."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from google.genai import _interactions

from .conftest import make_client
from .helpers import collect, wait_terminal

AGENT = "deep-research-preview-04-2026"
MODEL = "gemini-3.8-flash"


@pytest.fixture(scope="module")
def subprocess_url() -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOOGLE_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.emulator.cli",
            "--port",
            "0",
            "--research-seconds",
            "0.3",
            "--research-steps",
            "2",
            "--retry-after",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the socket listens
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert match, (first, proc.stderr.read() if proc.poll() is not None else "")
        yield match.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def control(subprocess_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=subprocess_url, timeout=10) as http:
        assert http.post("/_emulator/reset").json() == {"reset": True}
        yield http
        http.post("/_emulator/reset")


@pytest.mark.anyio
async def test_http_faults_and_stats(subprocess_url: str, control: httpx.Client, anyio_backend: str) -> None:
    rules = {
        "rules": [
            {"action": "status", "status": 429, "count": 1, "kind": "create"},
            {"action": "cut_stream", "after_events": 2, "kind": "stream"},
        ]
    }
    client = make_client(subprocess_url)
    http = httpx.AsyncClient(base_url=subprocess_url, timeout=10)
    try:
        snapshot = (await http.post("/_emulator/faults", json=rules)).json()
        assert [r["action"] for r in snapshot["rules"]] == ["status", "cut_stream"]
        with pytest.raises(_interactions.RateLimitError) as err:
            await client.aio.interactions.create(agent=AGENT, input="Research bees", background=True)
        assert err.value.response.headers["retry-after-ms"] == "50"
        created = await client.aio.interactions.create(agent=AGENT, input="Research bees", background=True)
        cut = await collect(await client.aio.interactions.get(created.id, stream=True))
        assert len(cut) == 2
        done = await wait_terminal(client, created.id)
        assert done.status == "completed"
        stats = (await http.get("/_emulator/stats")).json()
        assert stats["by_kind"]["create"] == 2 and stats["by_kind"]["stream"] == 1
        assert stats["by_interaction"][created.id]["create"] == 1
        completion = stats["completions"][created.id]
        assert completion["status"] == "completed" and completion["background"] is True
        assert completion["monotonic"] <= stats["now_monotonic"] and completion["wall_time"] > 1.7e9
        # directives travel in the prompt when the test has no Python handle on the emulator
        stuck = await client.aio.interactions.create(agent=AGENT, input="[emulator:stuck] x", background=True)
        await client.aio.interactions.cancel(stuck.id)
        cancels = (await http.get("/_emulator/stats")).json()["cancels"]
        assert [c["interaction_id"] for c in cancels] == [stuck.id]
    finally:
        await client.aio.aclose()
        await http.aclose()


def test_job_level_faults_and_config_over_http(subprocess_url: str, control: httpx.Client) -> None:
    snapshot = control.post(
        "/_emulator/faults", json={"stuck_jobs": None, "transient_404_seconds": 1.5}
    ).json()
    assert snapshot["stuck_jobs"] is None and snapshot["transient_404_seconds"] == 1.5
    assert control.delete("/_emulator/faults").json()["rules"] == []
    bad = control.post("/_emulator/faults", json={"action": "explode"})
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    config = control.post("/_emulator/config", json={"report_chars": 2000}).json()
    assert config["report_chars"] == 2000
    assert control.get("/_emulator/health").json()["ok"] is True


def test_cli_refuses_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server.emulator.cli", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "Refusing to bind '0.0.0.0'" in result.stderr and "loopback" in result.stderr
