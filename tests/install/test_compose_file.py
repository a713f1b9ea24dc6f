"""compose.yaml is a valid Compose file: checked against the Compose Specification's JSON schema (vendored in
schemas/, see schemas/README.md), so a typo in a key fails here rather than at `docker compose up`."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, FormatChecker

from .kit import REPO

SCHEMA = json.loads((REPO / "schemas" / "compose-spec.json").read_text(encoding="utf-8"))


def problems(document: Any) -> list[str]:
    validator = Draft7Validator(SCHEMA, format_checker=FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def compose() -> Any:
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_yaml_is_valid_against_the_compose_specification() -> None:
    assert problems(compose()) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda c: c["services"]["mcp"].update(restart_policy="always"),  # not a service key
        lambda c: c["services"]["mcp"]["deploy"].update(replicas=[2]),
        lambda c: c["services"]["postgres"]["healthcheck"].update(retries=[20]),
        lambda c: c.update(service={}),
    ],
)
def test_the_check_catches_a_broken_compose_file(break_it: Any) -> None:
    document = compose()
    break_it(document)
    assert problems(document)
