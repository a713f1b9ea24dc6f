"""What a tool module declares: its function and how the host should present it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.types import ToolAnnotations


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """``fn``'s name is the tool's name, its docstring the description, its parameters the input schema."""

    fn: Callable[..., Any]
    title: str
    annotations: ToolAnnotations
    view: str | None = None  # the ui:// view that shows its results in hosts that show apps (apps.py)
