"""``gemini-interactions-admin``: operator tasks, one module per group of subcommands (``cli.py`` lists them)."""
