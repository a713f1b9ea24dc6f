// A small MCP Apps host for the browser tests and the README screenshots, built on the ext-apps host-side bridge
// (AppBridge). It frames the view's HTML in a sandboxed iframe (scripts only: opaque origin, no forms, no
// popups) and relays the view's MCP requests to `window.mcpRequest(method, params)`, which the Python harness
// exposes and answers with a real MCP client connected to our server.
//
//   await window.testHost.mount({ html, tool, input, result, permissions, hostContext, capabilities })
//   window.testHost.log   // links the view asked to open, model-context updates, log messages, and
//                         // anything a hostile report managed to post (log.pwned)
import { AppBridge, PostMessageTransport, buildAllowAttribute } from "@modelcontextprotocol/ext-apps/app-bridge";

const HOST_INFO = { name: "gemini-interactions test host", version: "1.0.0" };
const CAPABILITIES = {
  openLinks: {},
  serverTools: {},
  serverResources: {},
  updateModelContext: { text: {} },
  logging: {},
};

const log = { openedLinks: [], modelContext: [], logs: [], sizes: [], pwned: [] };

// The hostile report of the tests posts {pwned: …} to its parent if any of its HTML ever runs.
window.addEventListener("message", (event) => {
  if (event.data && typeof event.data === "object" && "pwned" in event.data) log.pwned.push(String(event.data.pwned));
});

async function relay(method, params) {
  if (typeof window.mcpRequest !== "function") throw new Error("no MCP client is attached to this test host");
  return window.mcpRequest(method, params);
}

async function mount({ html, tool, input = {}, result = null, permissions, hostContext = {}, capabilities = CAPABILITIES }) {
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts");
  frame.setAttribute("title", `${tool.name} view`);
  const allow = buildAllowAttribute(permissions);
  if (allow) frame.setAttribute("allow", allow);
  document.getElementById("host").replaceChildren(frame);

  const bridge = new AppBridge(null, HOST_INFO, capabilities, {
    hostContext: { theme: "light", displayMode: "inline", toolInfo: { tool }, ...hostContext },
  });
  bridge.oncalltool = (params) => relay("tools/call", params);
  bridge.onreadresource = (params) => relay("resources/read", params);
  bridge.onopenlink = async ({ url }) => {
    log.openedLinks.push(url);
    return {};
  };
  bridge.onupdatemodelcontext = async (params) => {
    log.modelContext.push(params);
    return {};
  };
  bridge.onloggingmessage = (params) => log.logs.push(params);
  bridge.onsizechange = ({ height }) => {
    if (height !== undefined) {
      log.sizes.push(height);
      frame.style.height = `${Math.ceil(height) + 2}px`;
    }
  };
  const initialized = new Promise((resolve) => {
    bridge.oninitialized = resolve;
  });
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  frame.srcdoc = html;
  await initialized;
  await bridge.sendToolInput({ arguments: input });
  if (result) await bridge.sendToolResult(result);
  window.testHost.bridge = bridge;
}

window.testHost = { mount, log, bridge: null };
