// The MCP App of gemini-interactions: one page, served as ui://gemini-interactions/research.html and
// ui://gemini-interactions/image.html. It talks to the host with the official client library (ext-apps) and
// shows the view of the tool it was opened for: research (start_research, research_status) or image
// (generate_image). Everything it reads goes through the host; the page itself may fetch nothing.
import { App, PostMessageTransport, applyDocumentTheme, applyHostStyleVariables } from "@modelcontextprotocol/ext-apps";

import { errorText, h } from "./dom.js";
import { ImageView } from "./image.js";
import { ResearchView } from "./research.js";

const VIEWS = { start_research: ResearchView, research_status: ResearchView, generate_image: ImageView };

const app = new App({ name: "gemini-interactions", version: "1.0.0" }, {}, { autoResize: true });
const root = document.getElementById("app");

const host = {
  callTool: (name, args) => app.callServerTool({ name, arguments: args }),
  readResource: (uri) => app.readServerResource({ uri }),
  openLink: (url) => {
    app.openLink({ url }).catch((error) => console.warn(`could not open ${url}: ${errorText(error)}`));
  },
  get canReadResources() {
    return Boolean(app.getHostCapabilities()?.serverResources);
  },
  tellModel: (text) => {
    if (!app.getHostCapabilities()?.updateModelContext) return;
    app.updateModelContext({ content: [{ type: "text", text }] }).catch(() => {});
  },
};

let view = null;
const waiting = []; // what the host sent before we knew which view it is for

/** The view for this tool: the host names the tool (hostContext.toolInfo), else the result's shape tells. */
function viewKind(event) {
  const named = VIEWS[app.getHostContext()?.toolInfo?.tool?.name];
  if (named) return named;
  if (event.kind !== "result") return null;
  return Array.isArray(event.payload?.structuredContent?.images) ? ImageView : ResearchView;
}

function deliver(event) {
  if (event.kind === "input") view.input(event.payload);
  else if (event.kind === "result") view.result(event.payload);
  else view.cancelled(event.payload);
}

function dispatch(event) {
  if (!view) {
    const Kind = viewKind(event);
    if (!Kind) {
      waiting.push(event);
      return;
    }
    view = new Kind(root, host);
    for (const early of waiting.splice(0)) deliver(early);
  }
  deliver(event);
}

function applyContext(context) {
  if (context?.theme) applyDocumentTheme(context.theme);
  if (context?.styles?.variables) applyHostStyleVariables(context.styles.variables);
}

app.ontoolinput = (params) => dispatch({ kind: "input", payload: params.arguments ?? {} });
app.ontoolresult = (params) => dispatch({ kind: "result", payload: params });
app.ontoolcancelled = (params) => dispatch({ kind: "cancelled", payload: params?.reason });
app.onhostcontextchanged = applyContext;
app.onteardown = async () => {
  view?.teardown();
  return {};
};

app.connect(new PostMessageTransport(window.parent, window.parent)).then(
  () => applyContext(app.getHostContext()),
  (error) => {
    root.replaceChildren(h("p", { class: "error", role: "alert" }, `Could not connect to the host: ${errorText(error)}`));
  },
);
