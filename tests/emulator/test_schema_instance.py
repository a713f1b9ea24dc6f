"""The JSON a structured-output answer carries validates against the requested schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from server.emulator.schema_instance import schema_instance

SCHEMAS: list[dict[str, Any]] = [
    {"type": "string"},
    {"type": "string", "minLength": 80, "maxLength": 90},
    {"type": "string", "format": "date-time"},
    {"type": "integer", "minimum": 100, "maximum": 200},
    {"type": "integer", "exclusiveMinimum": 50},
    {"type": "number", "maximum": -3},
    {"type": "boolean"},
    {"type": ["null", "integer"]},
    {"enum": ["b", "a"]},
    {"const": 7},
    {"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 3},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}]},
    {"type": "array", "maxItems": 0},
    {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"x": {"type": "string"}}}]},
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
        ]
    },
    {
        "$defs": {
            "item": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
        },
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
        "required": ["items"],
    },
    {"type": "object", "required": ["free"], "additionalProperties": {"type": "integer"}},
    {"type": "object", "properties": {"next": {"$ref": "#"}}},  # recursion is bounded
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
def test_instance_validates(schema: dict[str, Any]) -> None:
    value = schema_instance(schema, "prompt text")
    jsonschema.validate(value, schema)


def test_openapi_style_upper_case_types() -> None:
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}, "s": {"type": "STRING"}}}
    value = schema_instance(schema, "Paris facts")
    assert isinstance(value["n"], int) and value["s"] == "s: Paris facts"
