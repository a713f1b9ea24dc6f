"""The image's HEALTHCHECK: GET /healthz on $PORT, whichever front door runs (exit 0 healthy, 1 not).

The entrypoint execs the server, so PID 1 is it. The Slack bot in Socket Mode (SLACK_APP_TOKEN set) serves no
HTTP at all: there is nothing to probe, so it counts as healthy while it runs (Docker restarts it if it exits).
Usage: healthcheck.py [PID] (default 1; tests pass another).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 4.0


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def main(argv: list[str]) -> int:
    pid = int(argv[1]) if len(argv) > 1 else 1
    running = command_line(pid)
    if "gemini-interactions-slack" in running and os.environ.get("SLACK_APP_TOKEN", "").strip():
        return 0  # Socket Mode: no HTTP server to ask
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # a fixed loopback URL
            healthy = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
