"""Explicit limits on what callers send (prompt size, attachments and images, report pages), and paths: nothing
taken from input or from upstream answers can place a file outside the data dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.server import MCPServer

from server.core import MAX_PROMPT_CHARS
from server.core.attachments import MAX_FILE_BYTES, MAX_FILES, MAX_TEXT_BYTES
from server.emulator import EmulatorHandle
from server.mcp.app import build_server
from tests.hardening.hostile_upstream import HOSTILE_ID, REPORT, hostile_upstream
from tests.support.env import make_settings
from tests.support.mcp import connect, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("drained")]

LIMIT_TEXT = f"the limit is {MAX_PROMPT_CHARS:,}"


@pytest.fixture
def server(emulator: EmulatorHandle, tmp_path: Path) -> MCPServer[Any]:
    settings = make_settings(tmp_path / "data", emulator.url, file_roots=str(tmp_path / "files"))
    (tmp_path / "files").mkdir()
    return build_server(settings, transport="http")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path / "files"


async def test_every_prompt_is_bounded(server: MCPServer[Any]) -> None:
    at_limit = "p" * MAX_PROMPT_CHARS
    over = at_limit + "!"
    async with connect(server) as client:
        first = await client.call_tool("ask", {"prompt": "hi"})
        iid = first.structured_content["interaction_id"]
        over_limit = {
            "ask": await client.call_tool("ask", {"prompt": over}),
            "continue_thread": await client.call_tool(
                "continue_thread", {"interaction_id": iid, "prompt": over}
            ),
            "generate_image": await client.call_tool("generate_image", {"prompt": over}),
            "start_research": await client.call_tool("start_research", {"prompt": over}),
            "system_instruction": await client.call_tool("ask", {"prompt": "hi", "system_instruction": over}),
        }
        accepted = await client.call_tool("ask", {"prompt": at_limit})
        research = await client.call_tool("start_research", {"prompt": at_limit[:-30] + "[emulator:stuck]"})
        await client.call_tool(
            "cancel_research", {"interaction_id": research.structured_content["interaction_id"]}
        )
    for door, result in over_limit.items():
        assert result.is_error and LIMIT_TEXT in text_of(result), (door, text_of(result)[:300])
        assert "Attach long material as a file" in text_of(result), door
    assert not accepted.is_error and not research.is_error, text_of(research)


def _sparse(path: Path, size: int, head: bytes) -> Path:
    with path.open("wb") as out:
        out.write(head)
        out.truncate(size)
    return path


async def test_attachments_are_bounded_in_count_size_and_total(server: MCPServer[Any], files: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n"
    big_image = _sparse(files / "huge.png", MAX_FILE_BYTES + 1, png)
    halves = [_sparse(files / f"half-{n}.pdf", MAX_FILE_BYTES // 2 + 1024, b"%PDF-1.4\n") for n in (1, 2)]
    long_text = files / "long.txt"
    long_text.write_text("x" * (MAX_TEXT_BYTES + 1))
    small = files / "note.txt"
    small.write_text("hello")
    async with connect(server) as client:

        async def attach(paths: list[Path]) -> Any:
            return await client.call_tool("ask", {"prompt": "Look", "attachments": [str(p) for p in paths]})

        image = await attach([big_image])
        total = await attach(halves)
        text = await attach([long_text])
        count = await attach([small] * (MAX_FILES + 1))
        fine = await attach([small] * MAX_FILES)
    assert image.is_error and "limit is 14 MiB per file" in text_of(image)
    assert total.is_error and "limit is 14 MiB per message" in text_of(total)
    assert text.is_error and f"limit for text files is {MAX_TEXT_BYTES:,} bytes" in text_of(text)
    assert count.is_error and "attachments" in text_of(count) and "10" in text_of(count)
    assert not fine.is_error, text_of(fine)


async def test_report_pages_are_bounded(server: MCPServer[Any]) -> None:
    async with connect(server) as client:
        started = await client.call_tool(
            "start_research",
            {"prompt": "Long report [emulator:research_seconds=0.2] [emulator:report_chars=60000]"},
        )
        iid = started.structured_content["interaction_id"]
        with anyio.fail_after(30):
            while True:
                status = await client.call_tool("research_status", {"interaction_id": iid})
                if status.structured_content["status"] != "in_progress":
                    break
                await anyio.sleep(0.05)
        default = status.structured_content
        too_small = await client.call_tool("research_status", {"interaction_id": iid, "max_chars": 499})
        too_big = await client.call_tool("research_status", {"interaction_id": iid, "max_chars": 50_001})
        widest = await client.call_tool("research_status", {"interaction_id": iid, "max_chars": 50_000})
        past_end = await client.call_tool("research_status", {"interaction_id": iid, "offset": 10**9})
    assert default["total_chars"] > 50_000
    assert len(default["report"]) == 8000 and default["next_offset"] == 8000
    assert "call again with offset 8000" in default["hint"]
    for refused, field in ((too_small, "max_chars"), (too_big, "max_chars")):
        assert refused.is_error and field in text_of(refused) and "validation error" in text_of(refused)
    assert len(widest.structured_content["report"]) == 50_000
    assert past_end.is_error and "past the end of the report" in text_of(past_end)


async def test_blank_interaction_ids_are_refused_not_ignored(server: MCPServer[Any]) -> None:
    """A whitespace id must not silently start a new conversation or look up nothing."""
    async with connect(server) as client:
        follow_up = await client.call_tool(
            "continue_thread", {"interaction_id": " \n ", "prompt": "and then?"}
        )
        status = await client.call_tool("research_status", {"interaction_id": "   "})
        cancel = await client.call_tool("cancel_research", {"interaction_id": "\t"})
    assert follow_up.is_error and "interaction_id is empty" in text_of(follow_up), text_of(follow_up)
    for result in (status, cancel):
        assert result.is_error and "No research run" in text_of(result), text_of(result)


@pytest.fixture
def hostile() -> Iterator[str]:
    with hostile_upstream() as url:
        yield url


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


async def test_upstream_ids_cannot_place_files_outside_the_data_dir(hostile: str, tmp_path: Path) -> None:
    """A research run whose id (from the far end) is a path climbing out of the data dir: the report and the
    images are still written inside it, and the run still completes."""
    data_dir = tmp_path / "deep" / "er" / "data"
    server = build_server(make_settings(data_dir, hostile))
    async with connect(server) as client:
        started = await client.call_tool("start_research", {"prompt": "Climb"})
        assert not started.is_error, text_of(started)
        assert started.structured_content["interaction_id"] == HOSTILE_ID
        with anyio.fail_after(30):
            while True:
                status = await client.call_tool("research_status", {"interaction_id": HOSTILE_ID})
                if status.structured_content["status"] != "in_progress":
                    break
                await anyio.sleep(0.05)
    assert status.structured_content["status"] == "completed", status.structured_content
    assert status.structured_content["report"].startswith(REPORT.strip()[:10])
    written = _files_under(tmp_path)
    outside = {p for p in written if not p.resolve().is_relative_to(data_dir.resolve())}
    assert not outside, outside
    report_path = Path(status.structured_content["report_path"])
    assert report_path.parent == (data_dir / "reports").resolve()
    assert any(p.suffix == ".png" for p in _files_under(data_dir / "reports"))
