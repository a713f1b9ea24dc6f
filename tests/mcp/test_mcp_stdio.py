"""The server as an MCP host runs it: a subprocess over stdio (``python -m server``), in both protocol eras.
The stdio client passes only an allow-list of environment variables, so everything is passed explicitly."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ImageContent, ResourceUpdatedNotification

from tests.support.env import REPO, TEST_KEY, host_env
from tests.support.mcp import server_command, text_of
from tests.support.processes import stop_process

pytestmark = pytest.mark.anyio

TOOLS = {"ask", "continue_thread", "generate_image", "start_research", "research_status"}


@asynccontextmanager
async def stdio_server(
    env: dict[str, str], mode: str, *args: str, errlog: Path | None = None, **kwargs: Any
) -> AsyncIterator[Client]:
    command, *argv = server_command(*args)
    params = StdioServerParameters(command=command, args=argv, env=env, cwd=str(REPO))
    with (errlog or Path("/dev/null")).open("w") as err:
        async with Client(stdio_client(params, errlog=err), mode=mode, **kwargs) as client:
            yield client


def _exists(path: str) -> bool:
    return Path(path).is_file()


def _read(path: Path) -> str:
    return path.read_text()


async def test_stdio_subprocess_serves_every_tool(emulator: Any, tmp_path: Path, mode: str) -> None:
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
    )
    heard: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            heard.append(str(message.params.uri))

    with anyio.fail_after(60):
        async with stdio_server(env, mode, message_handler=on_message) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            first = await client.call_tool("ask", {"prompt": "My name is Ada"})
            second = await client.call_tool(
                "continue_thread",
                {"interaction_id": first.structured_content["interaction_id"], "prompt": "Who am I?"},
            )
            image = await client.call_tool("generate_image", {"prompt": "a fox"})
            started = await client.call_tool(
                "start_research", {"prompt": "Fusion power [emulator:research_seconds=1.0]"}
            )
            iid = started.structured_content["interaction_id"]
            uri = f"research://{iid}"
            if mode == "legacy":
                with pytest.warns(MCPDeprecationWarning):
                    await client.subscribe_resource(uri)
                status = await _poll(client, iid)
                for _ in range(100):  # the notification may trail the status by a moment
                    if heard:
                        break
                    await anyio.sleep(0.05)
            else:
                async with client.listen(resource_subscriptions=[uri]) as subscription:
                    async for event in subscription:
                        heard.append(event.uri)
                        status = await client.call_tool("research_status", {"interaction_id": iid})
                        if status.structured_content["status"] == "completed":
                            break
            report = await client.read_resource(uri)

    assert TOOLS <= tools
    assert 'You said: "My name is Ada"' in first.structured_content["text"]
    assert "1 earlier turn" in second.structured_content["text"]
    assert not image.is_error and any(isinstance(c, ImageContent) for c in image.content)
    assert await anyio.to_thread.run_sync(_exists, image.structured_content["images"][0]["path"])
    assert status.structured_content["status"] == "completed"
    assert report.contents[0].text.startswith("# ")
    assert uri in heard


async def _poll(client: Client, iid: str) -> Any:
    for _ in range(300):
        status = await client.call_tool("research_status", {"interaction_id": iid})
        if status.structured_content["status"] != "in_progress":
            return status
        await anyio.sleep(0.05)
    raise AssertionError("research did not finish")


async def test_emulator_flag_needs_no_key_and_says_so(tmp_path: Path) -> None:
    # Modern era here; the Inspector test drives --emulator in the 2025-11-25 era.
    mode = "auto"
    home = tmp_path / "home"
    env = host_env(HOME=str(home), XDG_DATA_HOME=str(home / "data"))  # no key, no data dir, no base URL
    errlog = tmp_path / "stderr.txt"
    with anyio.fail_after(60):
        async with stdio_server(env, mode, "--emulator", errlog=errlog) as client:
            answer = await client.call_tool("ask", {"prompt": "hi"})
            image = await client.call_tool("generate_image", {"prompt": "a fox"})
    stderr = await anyio.to_thread.run_sync(_read, errlog)
    assert not answer.is_error, text_of(answer)
    assert "Answered by" in answer.structured_content["text"]
    assert not image.is_error, text_of(image)
    assert "EMULATOR MODE" in stderr and "no Gemini calls are made" in stderr
    # Fake jobs never mix with real ones: the default data dir gets an emulator/ subfolder.
    saved = Path(image.structured_content["images"][0]["path"])
    assert saved.is_relative_to(home / "data" / "gemini-interactions" / "emulator")


async def test_without_a_key_tools_explain_how_to_set_one(tmp_path: Path) -> None:
    mode = "legacy"  # what most hosts speak today; the in-memory no-key test covers both eras
    env = host_env(HOME=str(tmp_path), GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"))
    with anyio.fail_after(60):
        async with stdio_server(env, mode) as client:
            tools = (await client.list_tools()).tools
            results = [
                await client.call_tool("ask", {"prompt": "hi"}),
                await client.call_tool("generate_image", {"prompt": "a fox"}),
                await client.call_tool("start_research", {"prompt": "TPUs"}),
            ]
            listed = await client.call_tool("list_research", {})
    assert len(tools) == 8
    for result in results:
        assert result.is_error
        message = text_of(result)
        assert "No Gemini API key is configured" in message and "GEMINI_API_KEY" in message
        assert "Traceback" not in message
    assert not listed.is_error


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stdio_server_shuts_down_cleanly_on_a_signal(tmp_path: Path, signum: int) -> None:
    env = host_env(GEMINI_API_KEY=TEST_KEY, GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"))
    errlog = tmp_path / "stderr.txt"
    with errlog.open("w") as err:
        proc = subprocess.Popen(
            server_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env, cwd=REPO
        )
        try:
            _wait_for(errlog, "store migrations applied", timeout=30)
            proc.send_signal(signum)
            code = proc.wait(15)
        finally:
            stop_process(proc)
            for pipe in (proc.stdin, proc.stdout):
                if pipe:
                    pipe.close()
    assert code == 0, errlog.read_text()
    assert f"received {signal.Signals(signum).name}; shutting down" in errlog.read_text()


def _wait_for(path: Path, needle: str, *, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} never appeared in {path}:\n{path.read_text()}")


def test_module_entry_point_and_console_script_share_main() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "--help"], capture_output=True, text=True, timeout=30, cwd=REPO
    )
    assert result.returncode == 0
    for option in ("--transport", "--host", "--port", "--emulator"):
        assert option in result.stdout
