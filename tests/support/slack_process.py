"""The Slack bot as a subprocess (``gemini-interactions-slack``, HTTP mode on a free port), its stderr read as it
comes: for the restart tests and the replicas of the scale-out tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from server.emulator import EmulatorHandle
from tests.fakes.slack_api import SIGNING_SECRET, FakeSlack

from .env import TEST_KEY
from .processes import LISTENING

START_TIMEOUT = 30.0


def slack_executable() -> str:
    found = Path(sys.executable).with_name("gemini-interactions-slack")
    if found.exists():
        return str(found)
    which = shutil.which("gemini-interactions-slack")
    assert which, "the gemini-interactions-slack console script is not installed (uv sync)"
    return which


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    url: str = ""
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    def log(self) -> str:
        return "\n".join(self.lines[-60:])


def bot_env(slack: FakeSlack, emulator: EmulatorHandle, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")}
    env |= {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "GOOGLE_GEMINI_BASE_URL": emulator.url,
        "GEMINI_API_KEY": TEST_KEY,
        "GEMINI_INTERACTIONS_DATA_DIR": str(data_dir),
        "GEMINI_INTERACTIONS_POLL_SECONDS": "0.05",
        "GEMINI_INTERACTIONS_LEASE_SECONDS": "1",
        "GEMINI_INTERACTIONS_SLACK_SWEEP_SECONDS": "0.3",
        "GEMINI_INTERACTIONS_SLACK_PROGRESS_SECONDS": "0.5",
    }
    return env | extra


@asynccontextmanager
async def bot_process(env: dict[str, str], *args: str) -> AsyncIterator[BotProcess]:
    process = await asyncio.create_subprocess_exec(
        slack_executable(),
        "--port",
        "0",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    bot = BotProcess(process)
    ready = asyncio.get_running_loop().create_future()

    async def read() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            bot.lines.append(line)
            match = LISTENING.search(line)
            if match and not ready.done():
                ready.set_result(match.group(1))
        if not ready.done():
            ready.set_exception(AssertionError("the bot exited before listening"))

    bot.reader = asyncio.create_task(read())
    try:
        try:
            bot.url = await asyncio.wait_for(ready, START_TIMEOUT)
        except (TimeoutError, AssertionError) as exc:
            raise AssertionError(f"bot did not start: {exc}\n{bot.log()}") from None
        yield bot
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), 10)
        await asyncio.wait_for(bot.reader, 10)
