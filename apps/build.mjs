// Builds the MCP App view into ONE self-contained HTML file (script and styles inline, nothing fetched at run
// time) that the Python package ships, and the test host page the browser tests load.
//
//   npm run build                          # apps/ → server/mcp/views/app.html and apps/dist/test-host.html
//   node build.mjs --views DIR --host DIR  # elsewhere (the tests build into a temporary dir and compare)
//
// The output is deterministic (same sources and lock file → same bytes): CI rebuilds it and fails when the
// committed file differs. The page's Content-Security-Policy allows exactly its own inline script and style
// (by SHA-256), images from data: URLs, and nothing else: no network, no eval, no inline event handlers.
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    views: { type: "string", default: join(here, "..", "server", "mcp", "views") },
    host: { type: "string", default: join(here, "dist") },
  },
});

async function bundle(entry) {
  const result = await build({
    entryPoints: [join(here, entry)],
    bundle: true,
    minify: true,
    format: "iife",
    target: "es2022",
    platform: "browser",
    legalComments: "none",
    charset: "utf8",
    write: false,
    logLevel: "warning",
  });
  return new TextDecoder().decode(result.outputFiles[0].contents);
}

const sha256 = (text) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

function page({ title, script, style, csp, body }) {
  const policy = csp ? `<meta http-equiv="Content-Security-Policy" content="${csp}">` : null;
  for (const [what, text, closing] of [
    ["script", script, /<\/script/i],
    ["style", style, /<\/style/i],
  ]) {
    if (closing.test(text)) throw new Error(`the ${what} contains a closing </${what}> tag; it cannot be inlined`);
  }
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    policy,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    `<style>${style}</style>`,
    "</head>",
    `<body>${body}<script>${script}</script></body>`,
    "</html>",
    "",
  ]
    .filter((line) => line !== null)
    .join("\n");
}

async function view() {
  const script = await bundle("src/main.js");
  const style = await readFile(join(here, "src", "view.css"), "utf8");
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(style)}`,
    "img-src data:",
    "connect-src 'none'",
    "font-src 'none'",
    "media-src 'none'",
    "frame-src 'none'",
    "worker-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  return page({
    title: "Gemini Interactions",
    script,
    style,
    csp,
    body: '<main id="app"><p class="muted">Waiting for the tool result…</p></main>',
  });
}

async function testHost() {
  const script = await bundle("test-host/host.js");
  const style = await readFile(join(here, "test-host", "host.css"), "utf8");
  // No policy of its own: a srcdoc frame inherits its parent's policy, and the view must run under its own alone.
  return page({ title: "MCP Apps test host", script, style, csp: null, body: '<div id="host"></div>' });
}

async function write(dir, name, text) {
  const path = resolve(dir, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text, "utf8");
  console.log(`wrote ${path} (${Math.round(Buffer.byteLength(text) / 1024)} KiB)`);
}

await write(args.views, "app.html", await view());
await write(args.host, "test-host.html", await testHost());
