"""The MCP tools, one module each (``answers.py`` holds ask and continue_thread, one tool with and without an
earlier interaction). A new tool is a module with a ``TOOL = ToolSpec(...)`` and one line here.

Each tool parses its arguments (``inputs.py``), calls the core, and shapes the result (``results.py``); failures
become ToolErrors that say what to do next (``errors.py``). The order here is the order hosts list them in.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from ..apps import ui_meta
from . import (
    answers,
    approve_research,
    cancel_research,
    generate_image,
    list_research,
    research_status,
    start_research,
)
from .spec import ToolSpec

TOOLS: tuple[ToolSpec, ...] = (
    answers.ASK,
    answers.CONTINUE_THREAD,
    generate_image.TOOL,
    start_research.TOOL,
    approve_research.TOOL,
    research_status.TOOL,
    cancel_research.TOOL,
    list_research.TOOL,
)


def register(server: MCPServer[Any]) -> None:
    for tool in TOOLS:
        meta = ui_meta(tool.view) if tool.view else None
        server.add_tool(tool.fn, title=tool.title, annotations=tool.annotations, meta=meta)
