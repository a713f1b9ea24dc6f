"""Attachments named by an HTTP caller, while someone swaps what the path leads to.

Before, the path was resolved and checked, then opened again by name: swapping a folder for a symlink in between
sent a file outside the roots to Gemini (7 of 300 tries), and a FIFO swapped in for the file blocked a worker
thread for ever. Now the file is opened once and the descriptor is what is checked."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest

from server.core import AttachmentError
from server.core.attachments import load_file
from server.emulator import EmulatorHandle
from server.mcp.app import build_server
from tests.support.env import make_settings
from tests.support.mcp import connect, text_of

TRIES = 300
FIFO_BATCHES = 10
SECRET = b"SECRET outside the roots"


# Another process exchanges two names, atomically (renameat2 RENAME_EXCHANGE), as fast as it can: on 2 cores it
# runs alongside the reads, and at every instant the path is one of the two.
_EXCHANGER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = (os.fsencode(p) for p in sys.argv[1:3])
print("ready", flush=True)
for n in range(int(sys.argv[3])):
    if libc.renameat2(-100, a, -100, b, 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
        sys.exit(f"renameat2: {os.strerror(ctypes.get_errno())}")
"""
MAX_EXCHANGES = 5_000_000  # a bound; the test stops it long before


@contextlib.contextmanager
def exchanging(a: Path, b: Path) -> Iterator[None]:
    """``a`` and ``b`` swap places over and over, in another process, while the block runs."""
    if not sys.platform.startswith("linux"):
        pytest.skip("renameat2 is Linux's")
    proc = subprocess.Popen(
        [sys.executable, "-c", _EXCHANGER, str(a), str(b), str(MAX_EXCHANGES)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        yield
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
        proc.wait(10)


def _try(path: Path, roots: list[Path]) -> bytes | str:
    try:
        return load_file(path, roots=roots).data
    except AttachmentError as exc:
        return str(exc)


def test_folder_symlink_swaps_read_nothing_outside_the_roots(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "docs").mkdir(parents=True)
    outside.mkdir()
    (root / "docs" / "note.txt").write_text("inside the roots")
    (outside / "note.txt").write_bytes(SECRET)
    docs, link = root / "docs", root / "docs.link"
    link.symlink_to(outside, target_is_directory=True)
    with exchanging(docs, link):  # the folder, then a symlink to outside the roots, then the folder…
        results = [_try(docs / "note.txt", [root]) for _ in range(TRIES)]
    read = [r for r in results if isinstance(r, bytes)]
    print(f"\n{len(read)} of {TRIES} reads succeeded, {TRIES - len(read)} refused")
    assert read and len(read) < TRIES, "the swaps did not race the reads"
    assert all(r == b"inside the roots" for r in read), {bytes(r) for r in read}
    refusals = {r.replace(str(tmp_path), "") for r in results if isinstance(r, str)}
    assert all("not a file this server may read" in r for r in refusals), refusals


def test_a_fifo_swapped_in_blocks_no_thread(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    note, pipe = root / "note.txt", root / "pipe"
    note.write_text("a regular file")
    os.mkfifo(pipe)  # no writer will ever come
    pool = ThreadPoolExecutor(max_workers=8)
    results: list[Any] = []
    try:
        with exchanging(note, pipe):
            # The window the old code left (between its type check and its read) is narrow: before the fix,
            # about one read in 3,000 blocked for ever.
            for _batch in range(FIFO_BATCHES):
                futures = [pool.submit(_try, note, [root]) for _ in range(TRIES)]
                done, blocked = wait(futures, timeout=30)
                assert not blocked, f"{len(blocked)} reads blocked on a FIFO"
                results += [f.result() for f in done]
        refused = [r for r in results if isinstance(r, str)]
        print(f"\n{len(results)} reads, all returned; {len(refused)} met the FIFO")
        assert refused, "the swaps did not race the reads"
        assert all(r == b"a regular file" for r in results if isinstance(r, bytes))
        assert all("not a regular file" in r for r in refused)
    finally:
        for name in (note, pipe):  # a reader blocked on the FIFO (the bug) would hold the test run for ever
            with contextlib.suppress(OSError):
                os.close(os.open(name, os.O_WRONLY | os.O_NONBLOCK))
        pool.shutdown(wait=True, cancel_futures=True)


def test_a_path_with_a_nul_byte_is_a_clear_argument_error(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError, match="NUL byte"):
        load_file(f"{tmp_path}/a\x00b.txt", roots=[tmp_path])
    with pytest.raises(AttachmentError, match="NUL byte"):
        load_file("a\x00b.txt", roots=None)


def test_a_home_directory_this_machine_does_not_know_is_a_clear_argument_error(tmp_path: Path) -> None:
    # Hypothesis found it: Path("~0").expanduser() raises RuntimeError when there is no user "0".
    for raw in ("~0", "~no-such-user-here/report.pdf"):
        with pytest.raises(AttachmentError, match="home directory is unknown"):
            load_file(raw, roots=None)
        with pytest.raises(AttachmentError, match="home directory is unknown"):
            load_file(raw, roots=[tmp_path])


@pytest.mark.anyio
async def test_over_mcp_a_nul_byte_is_an_error_the_caller_can_read(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data", emulator.url, file_roots=str(tmp_path))
    async with connect(build_server(settings, transport="http")) as client:
        result = await client.call_tool("ask", {"prompt": "Look", "attachments": [f"{tmp_path}/a\x00b.png"]})
    assert result.is_error and "NUL byte" in text_of(result)
