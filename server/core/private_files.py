"""The data dir is ours alone: its folders are created ``0700`` and its files ``0600`` (reports, images, the
SQLite database; SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file). A folder that
already exists keeps the mode the operator gave it."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def private_dir(path: Path) -> Path:
    """``path``, every folder of it that is missing created ``0700`` (whichever of the data dir and its
    subfolders is made first, the data dir is ours alone); returns ``path``."""
    missing = []
    folder = path
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made by another thread or process meanwhile
            folder.mkdir(mode=0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` whole (through a temporary file beside it, then a rename), readable by us alone."""
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    fd = os.open(tmp, _CREATE, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def create_private(path: Path) -> None:
    """An empty ``0600`` file at ``path`` unless one is there already."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, _CREATE, 0o600))


def check_writable(directory: Path) -> None:
    """OSError unless a file can be created in ``directory`` (created if missing)."""
    probe = private_dir(directory) / f".write-check-{secrets.token_hex(4)}"
    os.close(os.open(probe, _CREATE, 0o600))
    probe.unlink()
