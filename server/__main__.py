"""``python -m server``: the MCP server (same as ``gemini-interactions-mcp``)."""

from server.cli import main

main()
