#!/usr/bin/env bash
# Install the official MCP Bundle CLI (npm @anthropic-ai/mcpb) under .cache/mcpb (gitignored).
# tests/install uses it to validate, pack and unpack the Claude Desktop bundle; CI calls this script before the
# tests (they fail under CI=true when it is missing, and are skipped elsewhere).
#
#   bash tests/install/install_mcpb.sh            # or MCPB_DIR=/somewhere bash tests/install/install_mcpb.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${MCPB_DIR:-$repo/.cache/mcpb}"
mcpb_pkg="@anthropic-ai/mcpb@2.1.2"   # manifest 0.4 (server type "uv") needs >= 2.0

command -v npm >/dev/null || { echo "install_mcpb.sh: npm is required" >&2; exit 1; }

mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name": "mcpb-cache", "private": true}' > package.json
npm install --no-audit --no-fund --loglevel=error "$mcpb_pkg"
echo "mcpb $("$dest/node_modules/.bin/mcpb" --version): $dest/node_modules/.bin/mcpb"
