"""Long foreground answers in several continuation hops, as the real service sends them.

An answer longer than the per-request decode limit stops with ``status: "requires_continuation"`` and a
``continuation_token``; a create that sends the token back (with ``previous_interaction_id`` set to the hop that
issued it and no ``input``, or with the original ``input`` when ``store`` is false) gets the next part as a new
interaction. This is the protocol ``google/genai/_interactions_continuation.py`` speaks. Each hop re-reads (and
bills) the input and everything produced so far. Background runs are never split (the SDK does not continue
them: the server does).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from .errors import invalid_argument
from .parsing import CreateRequest

MAX_HOPS = 50


@dataclass
class Part:
    text: str
    annotations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Continuation:
    """What is left of an answer after the hop ``owner`` stopped."""

    owner: str
    parts: list[Part]
    input_chars: int  # the request's input, re-read by every hop
    emitted_chars: int  # the answer so far, re-read by every later hop
    delay: float = 0.0  # how long each hop takes (the first request's text_delay)


def hop_count(req: CreateRequest, text: str, continuation_chars: int) -> int:
    """How many hops the answer ``text`` to ``req`` takes."""
    if req.background:
        return 1
    try:
        wanted = int(req.directives.get("hops", "0") or 0)
    except ValueError:
        wanted = 0
    if wanted <= 1 and continuation_chars > 0:
        wanted = math.ceil(len(text) / continuation_chars)
    return max(1, min(wanted, MAX_HOPS, len(text) or 1))


def split(text: str, annotations: list[dict[str, Any]], hops: int) -> list[Part]:
    """``text`` cut into ``hops`` parts of near-equal length; each annotation goes with the part where it
    starts, its offsets made relative to that part (and cut at its end)."""
    size = math.ceil(len(text) / hops) if text else 0
    bounds = [(i * size, min(len(text), (i + 1) * size)) for i in range(hops)]
    parts = [Part(text[start:end]) for start, end in bounds]
    for note in annotations:
        begin = int(note.get("start_index", 0))
        for part, (start, end) in zip(parts, bounds, strict=True):
            if start <= begin < end or (begin >= end == len(text) and part is parts[-1]):
                part.annotations.append(
                    {
                        **note,
                        "start_index": begin - start,
                        "end_index": min(int(note.get("end_index", begin)), end) - start,
                    }
                )
                break
    return parts


def new_token() -> str:
    return "ct_" + secrets.token_urlsafe(24)


def check_resume(req: CreateRequest, pending: Continuation | None) -> Continuation:
    """The continuation a request resumes, or Google's 400 for a token that does not fit it."""
    if pending is None:
        raise invalid_argument("Invalid value at 'continuation_token': unknown or expired token.")
    if req.store:
        if req.previous_interaction_id != pending.owner:
            raise invalid_argument(
                f"Invalid value at 'continuation_token': it was issued by interaction {pending.owner}; send "
                "that id as previous_interaction_id."
            )
        if req.input_steps:
            raise invalid_argument(
                "'input' must be empty when continuing from a continuation_token with previous_interaction_id."
            )
    elif not req.input_steps:
        raise invalid_argument("'input' is required with a continuation_token when store is false.")
    return pending
