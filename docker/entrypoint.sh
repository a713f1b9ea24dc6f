#!/bin/sh
# Maps the image's roles onto the project's console scripts; extra arguments are passed through.
set -eu
role="${1:-mcp}"
[ "$#" -gt 0 ] && shift
case "$role" in
  mcp)
    exec gemini-interactions-mcp --transport http --host 0.0.0.0 --port "${PORT:-8000}" "$@" ;;
  slack)
    exec gemini-interactions-slack --host 0.0.0.0 --port "${PORT:-8000}" "$@" ;;
  *)
    exec "$role" "$@" ;;
esac
