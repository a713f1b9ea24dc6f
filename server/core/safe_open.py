"""Opening a file named by someone else exactly once, and asking the open descriptor what it is.

``open_once`` opens without following a final symlink (``O_NOFOLLOW``) and without blocking (``O_NONBLOCK``: a
FIFO opens at once instead of waiting for a writer; a read never waits either). ``location`` asks the kernel
where the descriptor's file is (``/proc/self/fd`` on Linux, ``F_GETPATH`` on macOS); where it cannot be asked,
it accepts the path resolved now only if it leads to the very file the descriptor holds (device and inode).

Windows has neither flag: a final symlink is followed (the descriptor's file is still checked against the roots)
and named pipes are not files there; the README says what that means.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)
_CHUNK = 1024 * 1024


def open_once(path: Path) -> int:
    """A read-only descriptor for ``path`` itself (never what a symlink there points to); OSError otherwise
    (``ELOOP`` for a symlink)."""
    return os.open(path, _FLAGS)


def real_path(fd: int) -> Path | None:
    """Where the descriptor's file is, as the kernel knows it; None when it cannot say (or the file is gone)."""
    try:
        if sys.platform == "darwin":
            import fcntl

            found = fcntl.fcntl(fd, fcntl.F_GETPATH, bytes(1024)).rstrip(b"\0").decode()
        else:
            found = os.readlink(f"/proc/self/fd/{fd}")
    except (OSError, UnicodeDecodeError):
        return None
    if not found.startswith("/") or found.endswith(" (deleted)"):
        return None
    return Path(found)


def location(fd: int, path: Path) -> Path | None:
    """Where the descriptor's file is: ``real_path``, else ``path`` resolved now if it is that very file (same
    device, same inode); None when neither can be vouched for."""
    known = real_path(fd)
    if known is not None:
        return known
    try:
        now = path.resolve(strict=True)
        held, there = os.fstat(fd), os.stat(now)
    except (OSError, RuntimeError):
        return None
    return now if (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino) else None


def read_at_most(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes from the descriptor (fewer at the end of the file)."""
    parts: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
