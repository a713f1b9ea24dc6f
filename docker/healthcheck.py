"""The image's HEALTHCHECK: GET /readyz on $PORT, whichever front door runs (exit 0 ready, 1 not).

Ready means the job store is open with its migrations applied, and for the Slack bot that Slack is reachable: a
container reports healthy only once it can serve everything (a server started before its database is unhealthy
until the database comes up; it keeps retrying meanwhile). The entrypoint gives a Socket Mode bot
``--health-port $PORT``, so every role answers here. ``healthcheck.py /healthz`` asks liveness only (the process
serves), for an orchestrator that restarts unhealthy containers and should not do so during a database outage.

Usage: healthcheck.py [/readyz | /healthz]
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 4.0
PATHS = ("/readyz", "/healthz")


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/readyz"
    if path not in PATHS:
        print(f"healthcheck: unknown path {path!r}; use one of {', '.join(PATHS)}", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # a fixed loopback URL
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:  # 503: not ready; the body says why (docker inspect shows it)
        print(f"healthcheck: {url}: {exc.code} {_detail(exc)}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
    return 1


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read(4096)).get("detail", ""))
    except (ValueError, AttributeError, OSError):
        return ""


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
