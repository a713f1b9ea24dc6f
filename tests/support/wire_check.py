"""Strict parsing with google-genai's own wire models: what the SDK would silently accept is a failure here.

The SDK's models allow extra fields (``extra="allow"``), parse unknown union members as ``Unknown*`` placeholders
and unknown enum values as ``UnrecognizedStr``; a renamed field therefore parses "fine" and is lost. :func:`strict`
parses a payload and fails on anything left over: an extra field at any depth, an ``Unknown*`` variant, an
unrecognised enum value. Free-form JSON (a JSON schema, tool arguments) is a ``dict`` and is not inspected.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pydantic
from google.genai._gaos.types import UnrecognizedStr
from google.genai._gaos.types.interactions import (
    CreateAgentInteraction,
    CreateModelInteraction,
    Interaction,
    InteractionSSEEvent,
)
from google.genai._gaos.types.interactions.status import Status

_ADAPTERS: dict[Any, pydantic.TypeAdapter[Any]] = {}


def leftovers(value: Any, path: str = "$") -> list[str]:
    """Where ``value`` (a parsed SDK model) holds something the SDK does not know."""
    found: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        if getattr(value, "is_unknown", False):
            found.append(f"{path}: parsed as {type(value).__name__} ({getattr(value, 'raw', None)!r:.200})")
            return found
        found += [f"{path}.{name}: extra field" for name in (value.__pydantic_extra__ or {})]
        for name in type(value).model_fields:
            found += leftovers(value.__dict__.get(name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for number, item in enumerate(value):
            found += leftovers(item, f"{path}[{number}]")
    elif isinstance(value, UnrecognizedStr):
        found.append(f"{path}: unrecognised value {str(value)!r}")
    return found


def strict(kind: Any, payload: Any) -> Any:
    """``payload`` parsed as ``kind``; AssertionError (or pydantic's ValidationError) when anything is left over."""
    adapter = _ADAPTERS.setdefault(kind, pydantic.TypeAdapter(kind))
    parsed = adapter.validate_python(payload)
    problems = leftovers(parsed)
    if problems:
        raise AssertionError(
            f"{kind.__name__ if hasattr(kind, '__name__') else kind}: " + "; ".join(problems)
        )
    return parsed


def request(body: dict[str, Any]) -> Any:
    """A create request body, as the model or the agent form of the SDK's request type."""
    return strict(CreateAgentInteraction if "agent" in body else CreateModelInteraction, body)


def interaction(payload: dict[str, Any]) -> Interaction:
    return strict(Interaction, payload)


def event(payload: dict[str, Any]) -> Any:
    return strict(InteractionSSEEvent, payload)


class _Rpc(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)


class _ErrorInfo(_Rpc):
    type: str = pydantic.Field(alias="@type")
    reason: str
    domain: str
    metadata: dict[str, str] = {}


class _LocalizedMessage(_Rpc):
    type: str = pydantic.Field(alias="@type")
    locale: str
    message: str


class _Violation(_Rpc):
    quotaMetric: str | None = None
    quotaId: str | None = None
    quotaDimensions: dict[str, str] | None = None
    quotaValue: str | None = None


class _QuotaFailure(_Rpc):
    type: str = pydantic.Field(alias="@type")
    violations: list[_Violation]


class _RetryInfo(_Rpc):
    type: str = pydantic.Field(alias="@type")
    retryDelay: str


# google.rpc detail messages by their @type (https://cloud.google.com/apis/design/errors#error_details).
_DETAILS: dict[str, type[_Rpc]] = {
    "type.googleapis.com/google.rpc.ErrorInfo": _ErrorInfo,
    "type.googleapis.com/google.rpc.LocalizedMessage": _LocalizedMessage,
    "type.googleapis.com/google.rpc.QuotaFailure": _QuotaFailure,
    "type.googleapis.com/google.rpc.RetryInfo": _RetryInfo,
}


def error_envelope(payload: dict[str, Any]) -> Status:
    """Google's error envelope: a google.rpc.Status (numeric code, message, details) plus its ``status`` name.

    The SDK's ``Error`` model (a string code and a message) is thinner than what Google sends, so the SDK's
    ``Status`` model checks the envelope, and each detail is checked against its google.rpc message.
    """
    assert set(payload) == {"error"}, payload
    inner = dict(payload["error"])
    assert isinstance(inner.pop("status", None), str), payload
    assert isinstance(inner.get("code"), int), payload
    parsed = strict(Status, inner)
    for detail in parsed.details or []:
        assert detail.get("@type") in _DETAILS, f"unknown error detail: {detail}"
        _DETAILS[detail["@type"]].model_validate(detail)
    return parsed


def sse_events(body: str) -> list[dict[str, Any]]:
    """The JSON of each event of an SSE body (``event:`` must match ``event_type``; ``[DONE]`` closes it)."""
    events = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        if lines["data"] == "[DONE]":
            assert lines["event"] == "done"
            continue
        data = json.loads(lines["data"])
        assert data["event_type"] == lines["event"]
        events.append(data)
    return events


def renamed(payload: Any, path: tuple[Any, ...], new_name: str) -> Any:
    """A copy of ``payload`` with the field at ``path`` (keys and list indexes) renamed to ``new_name``."""
    out = copy.deepcopy(payload)
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    parent[new_name] = parent.pop(path[-1])
    return out


def field_paths(payload: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every object field in ``payload`` (to rename each in turn)."""
    paths: list[tuple[Any, ...]] = []
    if isinstance(payload, dict):
        for key, value in payload.items():
            paths.append((*prefix, key))
            paths += field_paths(value, (*prefix, key))
    elif isinstance(payload, list):
        for number, item in enumerate(payload):
            paths += field_paths(item, (*prefix, number))
    return paths
