"""Reading a create body the way the service does: input forms, response formats, tools, directives.

Accepted ``input`` forms (as the SDK serialises them): a string; one content dict; a list of content
dicts (the SDK wraps it in one ``user_input`` step); a list of steps; legacy ``{"role", "content"}`` turns.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from . import catalog
from .errors import invalid_argument

CONTENT_TYPES = frozenset({"text", "image", "audio", "document", "video"})
MEDIA_TYPES = CONTENT_TYPES - {"text"}
STEP_TYPES = frozenset(
    {
        "user_input",
        "model_output",
        "thought",
        "function_call",
        "function_result",
        "code_execution_call",
        "code_execution_result",
        "url_context_call",
        "url_context_result",
        "google_search_call",
        "google_search_result",
        "mcp_server_tool_call",
        "mcp_server_tool_result",
        "file_search_call",
        "file_search_result",
        "google_maps_call",
        "google_maps_result",
    }
)
ASPECT_RATIOS = (
    "1:1",
    "2:3",
    "3:2",
    "3:4",
    "4:3",
    "4:5",
    "5:4",
    "9:16",
    "16:9",
    "21:9",
    "1:8",
    "8:1",
    "1:4",
    "4:1",
)
IMAGE_SIZES = ("512", "1K", "2K", "4K")
ECHO_FIELDS = (
    "system_instruction",
    "tools",
    "response_format",
    "generation_config",
    "agent_config",
    "webhook_config",
    "labels",
    "service_tier",
)
DIRECTIVE = re.compile(r"\[emulator:([a-z_]+)(?:=([^\]]*))?\]")


@dataclass
class MediaPart:
    type: str
    mime_type: str
    size: int | None  # decoded bytes, None when given by uri
    uri: str | None = None


@dataclass
class CreateRequest:
    raw: dict[str, Any]
    model: str | None
    agent: str | None
    input_steps: list[dict[str, Any]]
    prompt: str  # the text parts of the last user turn, joined with newlines
    media: list[MediaPart]
    previous_interaction_id: str | None
    system_instruction: str | None
    tools: list[str]
    json_schema: dict[str, Any] | None
    wants_json: bool
    image_format: dict[str, Any]
    background: bool
    store: bool
    stream: bool
    agent_config: dict[str, Any]
    directives: dict[str, str] = field(default_factory=dict)
    continuation_token: str | None = None
    thinking_level: str | None = None

    @property
    def echo(self) -> dict[str, Any]:
        """Request fields the service echoes back on the interaction."""
        return {k: self.raw[k] for k in ECHO_FIELDS if self.raw.get(k) is not None}

    @property
    def is_agent(self) -> bool:
        return self.agent is not None

    @property
    def served_model(self) -> str | None:
        """The model that really answers (a deprecated id is routed to its successor)."""
        return catalog.served_model(self.model) if self.model else None

    @property
    def is_image_model(self) -> bool:
        return self.served_model in catalog.IMAGE_MODELS

    def directive_float(self, name: str, default: float) -> float:
        try:
            return float(self.directives[name])
        except (KeyError, ValueError):
            return default


def parse_create(body: Any) -> CreateRequest:
    if not isinstance(body, dict):
        raise invalid_argument("Invalid JSON payload received. The request body must be a JSON object.")
    unknown = sorted(set(body) - catalog.request_fields())
    if (
        unknown
    ):  # Google refuses fields it does not know (the SDK's request types are generated from its spec)
        raise invalid_argument(
            f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
        )
    model, agent = body.get("model"), body.get("agent")
    if model is not None and agent is not None:
        raise invalid_argument("Only one of 'model' or 'agent' may be set.")
    if model is None and agent is None:
        raise invalid_argument("One of 'model' or 'agent' must be set.")
    for name, value in (("model", model), ("agent", agent)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise invalid_argument(f"'{name}' must be a non-empty string.")
    token = _optional_str(body, "continuation_token")
    if token is None and ("input" not in body or body["input"] in (None, "", [])):
        raise invalid_argument("'input' is required.")
    steps = normalize_input(body["input"]) if body.get("input") not in (None, "", []) else []
    prompt, media = last_user_turn(steps) if steps else ("", [])
    response_format = parse_response_format(body)
    return CreateRequest(
        raw=body,
        model=model,
        agent=agent,
        input_steps=steps,
        prompt=prompt,
        media=media,
        previous_interaction_id=_optional_str(body, "previous_interaction_id"),
        system_instruction=_system_instruction(body.get("system_instruction")),
        tools=_tool_names(body.get("tools")),
        json_schema=response_format["schema"],
        wants_json=response_format["json"],
        image_format=response_format["image"],
        background=_bool(body, "background", False),
        store=_bool(body, "store", True),
        stream=_bool(body, "stream", False),
        agent_config=body.get("agent_config") or {},
        directives={m.group(1): (m.group(2) or "") for m in DIRECTIVE.finditer(prompt)},
        continuation_token=token,
        thinking_level=_thinking_level(body.get("generation_config")),
    )


def _thinking_level(config: Any) -> str | None:
    if config is None:
        return None
    if not isinstance(config, dict):
        raise invalid_argument("Invalid value at 'generation_config': expected an object.")
    level = config.get("thinking_level")
    if level is not None and level not in catalog.thinking_levels():
        allowed = ", ".join(sorted(catalog.thinking_levels()))
        raise invalid_argument(
            f"Invalid value at 'generation_config.thinking_level' ({level!r}); expected one of: {allowed}."
        )
    return level


def normalize_input(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "user_input", "content": [{"type": "text", "text": value}]}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise invalid_argument("Invalid value at 'input': expected a string, a content, or a list.")
    if all(isinstance(v, dict) and v.get("type") in STEP_TYPES for v in value):
        return [_check_step(v) for v in value]
    if all(isinstance(v, dict) and ("role" in v) for v in value):
        return [_turn_to_step(v) for v in value]
    if all(isinstance(v, dict) and "content" not in v for v in value):
        return [{"type": "user_input", "content": [_check_content(v) for v in value]}]
    raise invalid_argument("Invalid value at 'input': mixes steps, turns and contents.")


def last_user_turn(steps: list[dict[str, Any]]) -> tuple[str, list[MediaPart]]:
    for step in reversed(steps):
        if step.get("type") == "user_input":
            return content_text(step.get("content", [])), content_media(step.get("content", []))
    raise invalid_argument("'input' holds no user_input step.")


def content_text(content: list[dict[str, Any]]) -> str:
    return "\n".join(c["text"] for c in content if c.get("type") == "text" and isinstance(c.get("text"), str))


def content_media(content: list[dict[str, Any]]) -> list[MediaPart]:
    parts = []
    for item in content:
        if item.get("type") in MEDIA_TYPES:
            data = item.get("data")
            size = len(_decode_base64(data)) if isinstance(data, str) else None
            parts.append(MediaPart(item["type"], item.get("mime_type") or "unknown", size, item.get("uri")))
    return parts


def parse_response_format(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("response_format")
    items = raw if isinstance(raw, list) else ([raw] if raw is not None else [])
    out: dict[str, Any] = {
        "schema": None,
        "json": body.get("response_mime_type") == "application/json",
        "image": {},
    }
    for item in items:
        if not isinstance(item, dict):
            raise invalid_argument("Invalid value at 'response_format': expected an object.")
        kind = item.get("type")
        if kind == "text":
            if item.get("mime_type") == "application/json":
                out["json"] = True
            if isinstance(item.get("schema"), dict):
                out["schema"] = item["schema"]
                out["json"] = True
        elif kind == "image":
            _check_choice(item, "aspect_ratio", ASPECT_RATIOS)
            _check_choice(item, "image_size", IMAGE_SIZES)
            out["image"] = item
        elif kind in ("audio", "video"):
            continue
        else:  # legacy: response_format is the JSON schema itself, next to response_mime_type
            out["schema"] = item
            out["json"] = True
    return out


def _check_choice(item: dict[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    value = item.get(name)
    if value is not None and value not in allowed:
        raise invalid_argument(
            f"Invalid value at 'response_format.{name}' ({value!r}); expected one of: {', '.join(allowed)}."
        )


def _check_step(step: dict[str, Any]) -> dict[str, Any]:
    if step["type"] in ("user_input", "model_output"):
        content = step.get("content", [])
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not isinstance(content, list):
            raise invalid_argument(f"Invalid value at 'input': {step['type']}.content must be a list.")
        return {**step, "content": [_check_content(c) for c in content]}
    return step


def _turn_to_step(turn: dict[str, Any]) -> dict[str, Any]:
    role = turn.get("role")
    step_type = {"user": "user_input", "model": "model_output"}.get(role or "")
    if step_type is None:
        raise invalid_argument(f"Invalid value at 'input': unknown role {role!r}.")
    return _check_step({"type": step_type, "content": turn.get("content", [])})


def _check_content(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise invalid_argument("Invalid value at 'input': every content must be an object.")
    if "type" not in item and "text" in item:
        item = {**item, "type": "text"}
    kind = item.get("type")
    if kind not in CONTENT_TYPES:
        raise invalid_argument(f"Invalid value at 'input': unknown content type {kind!r}.")
    if kind == "text" and not isinstance(item.get("text"), str):
        raise invalid_argument("Invalid value at 'input': text content needs a 'text' string.")
    if kind in MEDIA_TYPES:
        if not item.get("data") and not item.get("uri"):
            raise invalid_argument(f"Invalid value at 'input': {kind} content needs 'data' or 'uri'.")
        mime = item.get("mime_type")
        if mime is not None and mime not in catalog.mime_types()[kind]:
            # Only the types the API lists (the SDK's *Content mime_type enums); aliases such as audio/x-flac
            # are refused.
            raise invalid_argument(f"Invalid value at 'input': unsupported {kind} mime_type {mime!r}.")
        if item.get("data"):
            _decode_base64(item["data"])
    return item


def _decode_base64(data: Any) -> bytes:
    if not isinstance(data, str):
        raise invalid_argument("Invalid value at 'input': 'data' must be a base64 string.")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        try:
            return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        except (binascii.Error, ValueError) as err:
            raise invalid_argument("Invalid value at 'input': Base64 decoding failed for 'data'.") from err


def _system_instruction(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, dict):  # tolerate a content or a legacy {"parts": [...]} object
        if isinstance(value.get("text"), str):
            return value["text"]
        parts = value.get("parts") or value.get("content") or []
        return content_text(
            [p if "type" in p else {**p, "type": "text"} for p in parts if isinstance(p, dict)]
        )
    raise invalid_argument("Invalid value at 'system_instruction': expected a string.")


def _tool_names(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise invalid_argument("Invalid value at 'tools': expected a list of objects.")
    names = []
    for tool in value:
        kind = tool.get("type")
        if not isinstance(kind, str):
            raise invalid_argument("Invalid value at 'tools': every tool needs a 'type'.")
        names.append(f"function:{tool.get('name')}" if kind == "function" else kind)
    return names


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_argument(f"Invalid value at '{name}': expected a string.")
    return value or None


def _bool(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid_argument(f"Invalid value at '{name}': expected true or false.")
    return value
