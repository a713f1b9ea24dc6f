"""The MCP tools, one module each. A new tool is a module with a ``TOOL = ToolSpec(...)`` and one line here.

Each tool parses its arguments (``inputs.py``), calls the core, and shapes the result (``results.py``); failures
become ToolErrors that say what to do next (``errors.py``). The order here is the order hosts list them in.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer

from . import (
    ask,
    cancel_research,
    continue_thread,
    generate_image,
    list_research,
    research_status,
    start_research,
)
from .spec import ToolSpec

TOOLS: tuple[ToolSpec, ...] = (
    ask.TOOL,
    continue_thread.TOOL,
    generate_image.TOOL,
    start_research.TOOL,
    research_status.TOOL,
    cancel_research.TOOL,
    list_research.TOOL,
)


def register(server: MCPServer[Any]) -> None:
    for tool in TOOLS:
        server.add_tool(tool.fn, title=tool.title, annotations=tool.annotations)
