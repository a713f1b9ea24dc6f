#!/bin/sh
# Maps the image's roles onto the project's console scripts; extra arguments are passed through.
#   mcp [ARGS]     gemini-interactions-mcp over streamable HTTP on 0.0.0.0:$PORT (needs GEMINI_INTERACTIONS_MCP_TOKEN,
#                  _MCP_TOKENS_FILE, or _OAUTH_ISSUER with _PUBLIC_URL)
#   slack [ARGS]   gemini-interactions-slack: HTTP mode on 0.0.0.0:$PORT, or Socket Mode when SLACK_APP_TOKEN is set
#                  (then /healthz and /readyz alone on $PORT, for the HEALTHCHECK)
#   -…             options for mcp, e.g. `docker run IMAGE --log-level DEBUG`
#   COMMAND [ARGS] anything else on PATH, e.g. gemini-interactions-emulator
set -eu
role="${1:-mcp}"
case "$role" in
  -*) role=mcp ;;
  *) [ "$#" -gt 0 ] && shift ;;
esac
case "$role" in
  mcp)
    exec gemini-interactions-mcp --transport http --host 0.0.0.0 --port "${PORT:-8000}" "$@" ;;
  slack)
    if [ -n "${SLACK_APP_TOKEN:-}" ]; then
      exec gemini-interactions-slack --host 0.0.0.0 --health-port "${PORT:-8000}" "$@"
    fi
    exec gemini-interactions-slack --host 0.0.0.0 --port "${PORT:-8000}" "$@" ;;
  *)
    if ! command -v "$role" >/dev/null 2>&1; then
      echo "entrypoint: unknown role or command '$role'; use mcp, slack, or a command on PATH" >&2
      exit 64
    fi
    exec "$role" "$@" ;;
esac
