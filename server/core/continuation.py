"""A long foreground answer, whole: follow ``requires_continuation`` hops the way google-genai does.

An answer that reaches the per-request decode limit stops with ``status="requires_continuation"`` and a
``continuation_token``. The SDK's parsed ``create`` continues it by itself; our raw create does not, so we do
exactly what ``google/genai/_interactions_continuation.py`` does on the wire: resend the request with the token,
``previous_interaction_id`` set to the hop that issued it and no ``input`` (the original input when
``store=false``); stop when a hop hands back the token it was sent; merge the hops into one interaction (the
last hop's id and status, every hop's steps, usage summed, ``continuation_ids``).

:func:`follow` takes the request as a ``send(body, timeout)`` callable, so the same loop serves a raw create
today and a streamed one later. Every hop shares one time budget, and there are at most ``MAX_HOPS`` of them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

MAX_HOPS = 8
CONTINUE = "requires_continuation"

SendHop = Callable[[dict[str, Any], float], Awaitable[dict[str, Any]]]

# Usage lists merged per key, summing the value (as the SDK's _USAGE_LIST_KEYS).
_USAGE_LISTS: dict[str, tuple[str, str]] = {
    "cached_tokens_by_modality": ("modality", "tokens"),
    "input_tokens_by_modality": ("modality", "tokens"),
    "output_tokens_by_modality": ("modality", "tokens"),
    "tool_use_tokens_by_modality": ("modality", "tokens"),
    "grounding_tool_count": ("type", "count"),
}


@dataclass(frozen=True, slots=True)
class Followed:
    """The merged interaction, and why it is not whole (``None`` when it is)."""

    interaction: dict[str, Any]
    hops: int
    stopped: str | None = None


async def follow(
    body: dict[str, Any],
    send: SendHop,
    *,
    budget: float,
    max_hops: int = MAX_HOPS,
    clock: Callable[[], float] = time.monotonic,
) -> Followed:
    """Send ``body``, then every continuation hop it needs. A failure of the first hop is raised; a failure of
    a later hop ends the answer early (the parts already made are kept, they are billed)."""
    deadline = clock() + budget
    hops = [await send(body, budget)]
    sent: str | None = None
    while True:
        token = _next_token(hops[-1], sent)
        if token is None:
            stopped = None
            if hops[-1].get("status") == CONTINUE:
                stopped = "Gemini stopped before the end of this answer and offered no way to continue it."
            return Followed(merge(hops), len(hops), stopped)
        if len(hops) >= max_hops:
            return Followed(
                merge(hops),
                len(hops),
                f"Gemini stopped before the end of this answer: it was still going after {len(hops)} parts, "
                "the most fetched for one answer. Ask for the rest in a follow-up, or for a shorter answer.",
            )
        left = deadline - clock()
        if left <= 0:
            return Followed(merge(hops), len(hops), _out_of_time(budget, len(hops)))
        try:
            hop = await send(continuation_body(body, token, hops[-1].get("id")), left)
        except Exception as exc:
            return Followed(
                merge(hops),
                len(hops),
                f"Gemini stopped before the end of this answer: fetching part {len(hops) + 1} failed ({exc})",
            )
        hops.append(hop)
        sent = token


def _out_of_time(budget: float, parts: int) -> str:
    return (
        f"Gemini stopped before the end of this answer: the {budget:g} s allowed for one answer "
        f"(GEMINI_INTERACTIONS_REQUEST_TIMEOUT_SECONDS) ran out after {parts} parts."
    )


def _next_token(hop: dict[str, Any], sent: str | None) -> str | None:
    if hop.get("status") != CONTINUE:
        return None
    token = hop.get("continuation_token")
    if not isinstance(token, str) or not token or token == sent:  # the same token again: no progress
        return None
    return token


def continuation_body(body: dict[str, Any], token: str, owner_id: str | None) -> dict[str, Any]:
    """The request for the hop after the one ``owner_id`` names (the SDK's ``_continuation_body``)."""
    hop = {**body, "continuation_token": token}
    if owner_id and body.get("store") is not False:
        hop["previous_interaction_id"] = owner_id
        hop.pop("input", None)
    return hop


def merge(hops: list[dict[str, Any]]) -> dict[str, Any]:
    """One interaction from its hops (the SDK's ``merge_unary_hops``)."""
    if len(hops) == 1:
        return hops[0]
    steps: list[Any] = []
    for number, hop in enumerate(hops):
        hop_steps = list(hop.get("steps") or [])
        if number:  # a later hop continues the same turn: a repeated user_input would duplicate the input
            while hop_steps and isinstance(hop_steps[0], dict) and hop_steps[0].get("type") == "user_input":
                hop_steps.pop(0)
        steps.extend(hop_steps)
    merged = {**hops[-1], "steps": steps}
    ids: list[str] = []
    for hop in hops:
        ids += [i for i in hop.get("continuation_ids") or [] if isinstance(i, str)]
        if isinstance(hop.get("id"), str):
            ids.append(hop["id"])
    merged["continuation_ids"] = list(dict.fromkeys(ids))
    for name in ("previous_interaction_id", "created", "input"):
        if name in hops[0]:
            merged[name] = hops[0][name]
        else:
            merged.pop(name, None)
    usages = [h["usage"] for h in hops if isinstance(h.get("usage"), dict)]
    if usages:
        merged["usage"] = merge_usage(usages)
    return merged


def merge_usage(usages: list[dict[str, Any]]) -> dict[str, Any]:
    """Every count summed across hops; the first hop's input kept as ``initial_input_tokens``."""
    out: dict[str, Any] = {}
    names = list(dict.fromkeys(name for usage in usages for name in usage))
    for name in names:
        if name == "initial_input_tokens":
            continue
        values = [u[name] for u in usages if u.get(name) is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            out[name] = sum(values)
        elif name in _USAGE_LISTS and all(isinstance(v, list) for v in values):
            key, value = _USAGE_LISTS[name]
            totals: dict[Any, dict[str, Any]] = {}
            for items in values:
                for item in items:
                    if not isinstance(item, dict):
                        continue
                    seen = totals.get(item.get(key))
                    if seen is None:
                        totals[item.get(key)] = dict(item)
                    elif isinstance(seen.get(value), int) and isinstance(item.get(value), int):
                        seen[value] += item[value]
            out[name] = list(totals.values())
    first = usages[0]
    initial = first.get("initial_input_tokens", first.get("total_input_tokens"))
    if initial is not None:
        out["initial_input_tokens"] = initial
    return out
