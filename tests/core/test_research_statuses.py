"""Statuses the API has now: queued and idle keep a run waiting, requires_action ends it with a clear message,
a status newer than us is logged and waited on until the deadline; report charts delivered by uri are kept."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import anyio
import pytest

from server.core import Core, Settings
from server.core.domain import Origin, disposition
from server.core.image_downloads import ImageDownloads
from server.emulator import Emulator
from tests.core.test_research import wait_terminal

pytestmark = pytest.mark.anyio

MCP = Origin(source="mcp")
CoreFactory = Callable[..., AbstractAsyncContextManager[Core]]


def test_one_place_decides_what_a_status_means() -> None:
    assert [disposition(s) for s in ("queued", "idle", "in_progress", "requires_continuation")] == [
        "waiting"
    ] * 4
    assert [
        disposition(s) for s in ("completed", "failed", "cancelled", "incomplete", "budget_exceeded")
    ] == ["terminal"] * 5
    assert disposition("requires_action") == "action"
    assert disposition("some_future_status") == "unknown"


async def test_queued_and_idle_runs_keep_waiting_and_complete(core_for: CoreFactory, emu: Emulator) -> None:
    async with core_for() as core:
        job = await core.research.start(
            "q [emulator:start_status=queued][emulator:status=idle][emulator:research_seconds=1]", origin=MCP
        )
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "completed" and done.error is None


async def test_requires_action_ends_the_run_with_a_clear_message(
    core_for: CoreFactory, emu: Emulator
) -> None:
    async with core_for() as core:
        job = await core.research.start(
            "plan [emulator:requires_action][emulator:research_seconds=0.4]", origin=MCP
        )
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "failed"
    assert done.error and "wait for an action this server cannot take" in done.error


async def test_an_unknown_status_is_logged_and_waited_on_until_the_deadline(
    core_for: CoreFactory, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="server.core.research")
    async with core_for(research_deadline_seconds=2.0, stream_read_timeout_seconds=0.5) as core:
        job = await core.research.start(
            "new [emulator:status=pondering][emulator:stuck][emulator:research_seconds=0.2]", origin=MCP
        )
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "timed_out"
    warnings = [r.getMessage() for r in caplog.records if "pondering" in r.getMessage()]
    assert len(warnings) == 1 and "unknown to this version" in warnings[0]


async def test_report_charts_delivered_by_uri_are_downloaded_with_the_key(
    core_for: CoreFactory, emu: Emulator
) -> None:
    async with core_for() as core:
        job = await core.research.start(
            "charts [emulator:chart_uri][emulator:research_seconds=0.3]", origin=MCP
        )
        done = await wait_terminal(core, job.interaction_id)
    assert done.status == "completed" and len(done.image_paths) == 1
    assert (await anyio.Path(done.image_paths[0]).read_bytes()).startswith(b"\x89PNG")
    assert emu.stats.by_status.get(401, 0) == 0  # the emulator refuses downloads without the key


async def test_an_image_uri_elsewhere_gets_no_key_and_plain_http_is_refused(
    settings_for: Callable[..., Settings], emu: Emulator
) -> None:
    settings = settings_for()
    images = ImageDownloads(settings)
    other_host = settings.base_url.replace("127.0.0.1", "localhost")  # same server, another host
    interaction = {
        "steps": [
            {
                "type": "model_output",
                "content": [{"type": "image", "uri": f"{other_host}/_emulator/files/x/0"}],
            }
        ]
    }
    fetched, failed = await images.fetch(interaction, timeout=5)
    await images.aclose()
    assert (fetched, failed) == ({}, 1)
    assert emu.stats.requests_total == 0  # refused before any request: no key went anywhere
