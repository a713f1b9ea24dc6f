"""``python -m server``: the MCP server (same as ``gemini-interactions-mcp``)."""

from server.mcp.cli import main

main()
