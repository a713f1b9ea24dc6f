"""Bounded polling and stream collection for the emulator tests."""

from __future__ import annotations

import time
from typing import Any

import anyio
from google import genai

TERMINAL = {"completed", "failed", "cancelled", "incomplete", "budget_exceeded"}


async def wait_terminal(
    client: genai.Client, interaction_id: str, *, limit: float = 10.0, statuses: set[str] | None = None
) -> Any:
    """Poll ``get`` until the interaction ends (or reaches one of ``statuses``); fail after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while True:
        it = await client.aio.interactions.get(interaction_id)
        if it.status in TERMINAL | (statuses or set()):
            return it
        if time.monotonic() > deadline:
            raise AssertionError(f"{interaction_id} still {it.status} after {limit}s")
        await anyio.sleep(0.05)


async def collect(stream: Any, *, limit: float = 10.0, max_events: int = 5000) -> list[Any]:
    """Every event of an SDK stream, bounded in time and count."""
    events: list[Any] = []
    with anyio.fail_after(limit):
        async for event in stream:
            events.append(event)
            if len(events) >= max_events:
                raise AssertionError("stream did not end")
    return events


def report_text(it: Any) -> str:
    """All text of all model_output steps (``output_text`` only has the tail after an image)."""
    return "".join(
        item.text
        for step in it.steps
        if step.type == "model_output"
        for item in (step.content or [])
        if item.type == "text"
    )
