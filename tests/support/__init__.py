"""What every test folder needs, in one place: settings and environments (``env``), MCP clients (``mcp``),
the servers as subprocesses (``processes``), the Slack bot driven with signed requests (``slack``), event-loop
hygiene (``tasks``) and a throwaway PostgreSQL (``postgres``; its fixtures in ``pg_fixtures``, a plugin)."""
