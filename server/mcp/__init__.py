"""The MCP front door: the server factory (``app.py``), one module per tool (``tools/``), their arguments
(``inputs.py``) and results (``results.py``), errors, auth, the lifespan, resource subscriptions, the stdio and
HTTP transports (``stdio.py``, ``routes.py``) and the command (``cli.py``). It uses the core through
``server.core`` only, and never imports the Slack bot."""
