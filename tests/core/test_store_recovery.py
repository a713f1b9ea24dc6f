"""A store that cannot be opened at start-up is retried until it opens: meanwhile calls that need it say "not
ready yet" and readiness says why; once open, the unfinished runs resume. (PostgreSQL down at start, with the
front doors' /readyz, is in tests/hardening/test_readiness.py.)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from server.core import ConfigurationError, Core, NotReady, Settings
from server.core.domain import Origin
from server.emulator import Emulator

from .test_research import wait_terminal

pytestmark = pytest.mark.anyio

OWNER = Origin(source="mcp", owner="token:alice")


async def test_a_store_that_fails_to_open_is_retried_and_the_runs_resume(
    settings_for: Callable[..., Settings], emu: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.core.core")
    home, aside = tmp_path / "db", tmp_path / "db-aside"
    settings = settings_for(database_url=f"sqlite+aiosqlite:///{home}/jobs.sqlite3")
    async with Core.running(settings) as first:
        await first.ready()
        job = await first.research.start("Tides [emulator:research_seconds=3]", origin=OWNER)
    home.rename(aside)
    home.write_text("not a directory")  # the database's directory cannot be made: every open fails

    async with Core.running(settings) as core:
        with anyio.fail_after(30):
            while True:
                if core.readiness().store == "retrying":
                    break
                await anyio.sleep(0.02)
        readiness = core.readiness()
        assert not readiness.ready and readiness.attempts >= 1
        assert "could not be opened yet" in readiness.detail and "keeps retrying" in readiness.detail
        with pytest.raises(NotReady, match=r"not ready yet.*Try again in a moment"):
            await core.research.list(viewer=OWNER)

        home.unlink()
        aside.rename(home)  # the database is back
        with anyio.fail_after(30):
            await core.opened()
        assert core.readiness().ready and core.readiness().schema
        done = await wait_terminal(core, job.interaction_id, viewer=OWNER, seconds=30)
    assert done.status == "completed"
    assert "opening the job store failed (attempt 1" in caplog.text and "the job store is open" in caplog.text


async def test_a_bad_database_url_is_not_retried(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    async with Core.running(settings_for(database_url="mysql://db/gemini")) as core:
        with pytest.raises(ConfigurationError, match="Unsupported database URL"):
            await core.ready()
        readiness = core.readiness()
        assert (readiness.ready, readiness.store, readiness.attempts) == (False, "failed", 1)
        with pytest.raises(ConfigurationError):
            await core.opened()
