"""A far end that speaks just enough of the Interactions API to return names we must never trust as paths.

Every ``create`` starts a background run whose id is ``HOSTILE_ID`` (with ``../`` in it), every ``get`` says it
completed with a short report (and an image), every stream request is refused with 503 (so the watcher polls).
It runs under uvicorn on 127.0.0.1 in a thread, like the emulator.
"""

from __future__ import annotations

import base64
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

HOSTILE_ID = "../../report-outside"
REPORT = "# Hostile report\n\nThe id of this run tries to climb out of the data dir.\n"


def _png() -> str:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 20, 20)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def _interaction(status: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": HOSTILE_ID,
        "object": "interaction",
        "status": status,
        "agent": "deep-research-preview-04-2026",
        "created": "2026-01-01T00:00:00Z",
        "updated": "2026-01-01T00:00:00Z",
    }
    if status == "completed":
        body["steps"] = [
            {
                "type": "model_output",
                "content": [
                    {"type": "text", "text": REPORT},
                    {"type": "image", "data": _png(), "mime_type": "image/png"},
                ],
            }
        ]
    return body


async def _any(request: Request) -> JSONResponse:
    if request.method == "POST" and request.url.path.rstrip("/").endswith("/interactions"):
        return JSONResponse(_interaction("in_progress"))
    if request.query_params.get("stream") == "true":
        return JSONResponse(
            {"error": {"code": 503, "message": "no streams here", "status": "UNAVAILABLE"}}, 503
        )
    return JSONResponse(_interaction("completed"))


@contextmanager
def hostile_upstream() -> Iterator[str]:
    """Serve it on a free loopback port; yields the base URL for ``base_url`` / GOOGLE_GEMINI_BASE_URL."""
    app = Starlette(routes=[Route("/{path:path}", _any, methods=["GET", "POST", "DELETE"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the hostile upstream did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
