"""Identifiers and timestamps in the service's formats."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

_EVENT_ID = re.compile(r"^evt_(\d+)$")


def new_interaction_id() -> str:
    """``v1_`` followed by 22 random URL-safe characters, like the real service."""
    return "v1_" + secrets.token_urlsafe(16)


def new_call_id() -> str:
    return "call_" + secrets.token_hex(8)


def iso_now() -> str:
    """UTC time as ``YYYY-MM-DDThh:mm:ssZ``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_id(number: int) -> str:
    return f"evt_{number:06d}"


def parse_event_id(value: str) -> int | None:
    """The sequence number inside an ``evt_000123`` id, or None when the id is not one of ours."""
    match = _EVENT_ID.match(value.strip())
    return int(match.group(1)) if match else None
