"""A small JSON value that validates against a JSON schema (the subset structured output uses).

Handles ``type`` (also upper-case OpenAPI names and type lists), ``enum``/``const``, ``properties``
(required ones always, optional ones in the top levels), ``items``/``prefixItems``, ``min/maxItems``,
``min/maxLength``, ``minimum``/``maximum`` (also exclusive), ``format`` (date, date-time, email, uri,
uuid), ``anyOf``/``oneOf`` (first branch), ``allOf`` (merged), ``nullable`` and local ``$ref``.
Strings carry the property name and a snippet of the prompt, so the answer still proves what arrived.
"""

from __future__ import annotations

from typing import Any

_FORMATS = {
    "date": "2026-01-15",
    "date-time": "2026-01-15T12:00:00Z",
    "time": "12:00:00",
    "email": "ada@example.com",
    "uri": "https://example.com/emulator",
    "url": "https://example.com/emulator",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
}
_MAX_DEPTH = 12
_OPTIONAL_DEPTH = 3


def schema_instance(schema: dict[str, Any], prompt: str = "") -> Any:
    return _Builder(schema, " ".join(prompt.split())[:60]).build(schema, "value", 0)


class _Builder:
    def __init__(self, root: dict[str, Any], snippet: str) -> None:
        self.root = root
        self.snippet = snippet

    def build(self, schema: Any, name: str, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None if depth > _MAX_DEPTH else f"{name}: {self.snippet}"
        if "$ref" in schema:
            return self.build(self._resolve(schema["$ref"]), name, depth + 1)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                branches = [b for b in schema[key] if not (isinstance(b, dict) and b.get("type") == "null")]
                return self.build((branches or schema[key])[0], name, depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                part = self._resolve(part["$ref"]) if isinstance(part, dict) and "$ref" in part else part
                if isinstance(part, dict):
                    for k, v in part.items():
                        if k in ("properties",):
                            merged.setdefault(k, {}).update(v)
                        elif k == "required":
                            merged.setdefault(k, []).extend(v)
                        else:
                            merged.setdefault(k, v)
            return self.build(merged, name, depth + 1)
        kind = self._type(schema)
        match kind:
            case "object":
                return self._object(schema, depth)
            case "array":
                return self._array(schema, name, depth)
            case "string":
                return self._string(schema, name)
            case "integer":
                return int(self._number(schema, integer=True))
            case "number":
                return self._number(schema, integer=False)
            case "boolean":
                return True
            case "null":
                return None
        return f"{name}: {self.snippet}"

    def _type(self, schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [str(k).lower() for k in kind if str(k).lower() != "null"]
            kind = kinds[0] if kinds else "null"
        if isinstance(kind, str):
            return kind.lower()
        if "properties" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return "string"

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for part in ref.lstrip("#/").split("/"):
            if not part:
                continue
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, dict) else {}
        return node

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        # optional properties too, near the top (they show more of the prompt); deeper, only required ones
        keys = list(props) if depth < _OPTIONAL_DEPTH else [k for k in props if k in required]
        out = {key: self.build(props[key], key, depth + 1) for key in keys}
        for key in required:
            if key not in out:
                extra = schema.get("additionalProperties")
                out[key] = self.build(
                    extra if isinstance(extra, dict) else {"type": "string"}, key, depth + 1
                )
        return out

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        out = [self.build(sub, name, depth + 1) for sub in prefix]
        items = schema.get("items")
        low = int(schema.get("minItems", 1 if not prefix else 0))
        high = schema.get("maxItems")
        count = max(low, len(out))
        if high is not None:
            count = min(count, int(high))
        while len(out) < count:
            out.append(self.build(items if isinstance(items, dict) else {}, name, depth + 1))
        return out[:count]

    def _string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        text = (
            _FORMATS.get(fmt, f"{name}: {self.snippet}")
            if isinstance(fmt, str)
            else f"{name}: {self.snippet}"
        )
        low = int(schema.get("minLength", 0))
        if len(text) < low:
            text = text + "x" * (low - len(text))
        high = schema.get("maxLength")
        if high is not None:
            text = text[: int(high)]
        return text

    def _number(self, schema: dict[str, Any], *, integer: bool) -> float:
        step = 1 if integer else 0.5
        low, high = schema.get("minimum"), schema.get("maximum")
        if schema.get("exclusiveMinimum") is not None and not isinstance(schema["exclusiveMinimum"], bool):
            low = schema["exclusiveMinimum"] + step
        if schema.get("exclusiveMaximum") is not None and not isinstance(schema["exclusiveMaximum"], bool):
            high = schema["exclusiveMaximum"] - step
        value: float = 42 if integer else 42.5
        if low is not None and value < low:
            value = low
        if high is not None and value > high:
            value = high
        if integer:
            value = int(value) if low is None or int(value) >= low else int(value) + 1
        return value
