"""Settings, ports and environments for tests: the same everywhere."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

from server.core import Settings

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(sys.executable).parent  # the venv's console scripts
TEST_KEY = "test-key"

# What a stdio MCP host passes to its servers on POSIX (the SDK's allow-list), plus the locale and temp dir;
# everything else is explicit.
_HOST_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "TMPDIR")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def host_env(**extra: str) -> dict[str, str]:
    """The environment a stdio host gives a server: its allow-list plus what we pass explicitly."""
    return {name: os.environ[name] for name in _HOST_ENV if name in os.environ} | extra


def make_settings(data_dir: Path, base_url: str | None, **overrides: Any) -> Settings:
    """Settings for a test: the emulator at ``base_url``, quick polls, leases and stream timeouts."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "base_url": base_url,
        "api_key": TEST_KEY,
        "poll_seconds": 0.05,
        "request_timeout_seconds": 10.0,
        "stream_read_timeout_seconds": 2.0,
        "lease_seconds": 2.0,
    }
    return Settings(**(values | overrides))
