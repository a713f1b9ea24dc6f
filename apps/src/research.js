// The research view (start_research, research_status): progress while the run works, the plan of a planned
// run with Run it / Cancel, and the whole report once it is done, read from research://{id} through the host.
import { copyText, dataUrl, duration, errorText, h, resultText } from "./dom.js";
import { renderMarkdown, tableOfContents } from "./markdown.js";

// start_unknown is final: a start cut short by a restart, which the view must not keep polling as "Starting".
const TERMINAL = new Set([
  "completed",
  "failed",
  "cancelled",
  "incomplete",
  "budget_exceeded",
  "timed_out",
  "start_unknown",
]);
const LABELS = {
  start_unknown: "Start unknown",
  in_progress: "Researching",
  awaiting_approval: "Plan ready for review",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
  incomplete: "Incomplete",
  budget_exceeded: "Stopped: over budget",
  timed_out: "Timed out",
};
// research_status results carry the report's chart resources here, for hosts that negotiated MCP Apps.
export const CHARTS_META = "gemini-interactions/charts";
const NOTES_SHOWN = 6;
const PAGE = 50000; // research_status pages, when the host cannot read resources for us
const MAX_PAGES = 40;

/** Seconds to wait before asking research_status again: often at first, then less. */
function pollDelay(status, elapsed) {
  if (status === "awaiting_approval") return 10;
  if (elapsed < 60) return 2;
  if (elapsed < 300) return 5;
  return 10;
}

export class ResearchView {
  constructor(root, host) {
    this.root = root;
    this.host = host;
    this.id = null;
    this.prompt = null;
    this.status = null;
    this.elapsed = 0;
    this.elapsedAt = Date.now();
    this.notes = [];
    this.charts = [];
    this.error = null;
    this.notice = null;
    this.loaded = null; // the status whose document (report or plan) is shown
    this.markdown = null;
    this.timer = null;
    this.failures = 0;
    this.busy = false;
    this.confirmingCancel = false;
    this.elapsedEl = null;

    this.head = h("header", { class: "head" });
    this.progress = h("section", { class: "progress", "aria-live": "polite" });
    this.document = h("section", { class: "document" });
    this.root.replaceChildren(this.head, this.progress, this.document);
    this.ticker = setInterval(() => this.tick(), 1000);
    this.render();
  }

  input(args) {
    if (typeof args?.prompt === "string") this.prompt = args.prompt;
    if (typeof args?.interaction_id === "string" && !this.id) this.id = args.interaction_id;
    this.render();
  }

  result(result) {
    if (result?.isError) {
      this.error = resultText(result) || "The tool call failed.";
      this.render();
      return;
    }
    this.apply(result);
  }

  cancelled(reason) {
    this.error = `The host cancelled the tool call${reason ? `: ${reason}` : "."}`;
    this.render();
  }

  teardown() {
    clearInterval(this.ticker);
    clearTimeout(this.timer);
  }

  // -- state ----------------------------------------------------------------------------------------------

  apply(result) {
    const data = result?.structuredContent ?? {};
    if (!data.interaction_id) return;
    this.id = data.interaction_id;
    this.status = data.status ?? this.status;
    if (typeof data.elapsed_seconds === "number") {
      this.elapsed = data.elapsed_seconds;
      this.elapsedAt = Date.now();
    }
    if (data.progress && this.notes.at(-1) !== data.progress) this.notes.push(data.progress);
    if ("error" in data) this.error = data.error;
    const isStatus = typeof data.total_chars === "number"; // research_status, not start/cancel
    const charts = result?._meta?.[CHARTS_META];
    if (Array.isArray(charts)) this.charts = charts.filter((uri) => typeof uri === "string");
    this.render();
    const wantsDocument = TERMINAL.has(this.status) || this.status === "awaiting_approval";
    if (!wantsDocument && this.loaded) {
      this.loaded = null; // a plan that has been approved
      this.document.replaceChildren();
    }
    if (!isStatus) this.schedule(0); // what start/cancel/approve said is not the whole story: ask for status
    else if (wantsDocument && this.loaded !== this.status) this.loadDocument(this.status);
    if (isStatus && !TERMINAL.has(this.status)) this.schedule(pollDelay(this.status, this.elapsed));
  }

  schedule(seconds) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poll(), seconds * 1000);
  }

  async poll() {
    if (!this.id) return;
    try {
      const result = await this.host.callTool("research_status", { interaction_id: this.id, max_chars: 500 });
      if (result?.isError) throw new Error(resultText(result));
      this.failures = 0;
      this.notice = null;
      this.apply(result);
    } catch (error) {
      this.failures += 1;
      const wait = Math.min(60, 5 * 2 ** Math.min(this.failures - 1, 4));
      this.notice = `Could not refresh the status (${errorText(error)}). Trying again in ${wait} s.`;
      this.render();
      this.schedule(wait);
    }
  }

  tick() {
    if (this.elapsedEl && this.status && !TERMINAL.has(this.status)) this.elapsedEl.textContent = this.elapsedText();
  }

  elapsedText() {
    const elapsed = duration(this.currentElapsed());
    return TERMINAL.has(this.status) ? `Took ${elapsed}` : `Running for ${elapsed}`;
  }

  currentElapsed() {
    if (TERMINAL.has(this.status)) return this.elapsed;
    return this.elapsed + (Date.now() - this.elapsedAt) / 1000;
  }

  // -- the report or plan -----------------------------------------------------------------------------------

  async readDocument() {
    if (this.host.canReadResources) {
      const read = await this.host.readResource(`research://${this.id}`);
      return (read?.contents ?? []).map((c) => c.text ?? "").join("");
    }
    let text = "";
    let offset = 0;
    for (let page = 0; page < MAX_PAGES && offset !== null; page += 1) {
      const result = await this.host.callTool("research_status", {
        interaction_id: this.id,
        offset,
        max_chars: PAGE,
      });
      if (result?.isError) throw new Error(resultText(result));
      text += result.structuredContent?.report ?? "";
      offset = result.structuredContent?.next_offset ?? null;
    }
    return text;
  }

  async readChart(uri) {
    const read = await this.host.readResource(uri);
    const blob = (read?.contents ?? []).find((c) => typeof c.blob === "string");
    if (!blob) throw new Error(`${uri} held no image`);
    return dataUrl(blob.mimeType || "image/png", blob.blob);
  }

  async loadDocument(status) {
    this.loaded = status;
    this.document.replaceChildren(h("p", { class: "muted" }, status === "completed" ? "Loading the report…" : "Loading…"));
    let markdown;
    try {
      markdown = await this.readDocument();
    } catch (error) {
      this.loaded = null;
      this.document.replaceChildren(
        h("p", { class: "error", role: "alert" }, `Could not read the report: ${errorText(error)}`),
        h("button", { type: "button", onclick: () => this.loadDocument(status) }, "Try again"),
      );
      return;
    }
    if (this.loaded !== status) return; // the status moved on while we read
    this.markdown = markdown;
    if (status === "awaiting_approval") this.showPlan(markdown);
    else await this.showReport(markdown);
  }

  showPlan(markdown) {
    const { fragment } = renderMarkdown(markdown, { openLink: this.host.openLink });
    this.document.replaceChildren(
      h("h2", {}, "Proposed plan"),
      h(
        "p",
        { class: "muted" },
        "Gemini proposes this plan. Nothing is spent until you run it.",
      ),
      h("article", { class: "report plan" }, fragment),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => this.approve() }, "Run it"),
        h("button", { type: "button", onclick: () => this.cancel() }, "Cancel"),
      ),
    );
  }

  async showReport(markdown) {
    const { fragment, toc } = renderMarkdown(markdown, { openLink: this.host.openLink });
    const article = h("article", { class: "report" }, fragment);
    const copy = h("button", { type: "button", onclick: () => this.copy(copy) }, "Copy as Markdown");
    const charts = this.charts.length ? this.chartSection() : null;
    const entries = charts ? [...toc, { id: "charts", text: "Charts", level: 2 }] : toc;
    const parts = [
      h("div", { class: "toolbar" }, copy, h("span", { class: "muted" }, `${markdown.length.toLocaleString("en")} characters`)),
      markdown.trim() ? tableOfContents(entries) : null,
      markdown.trim() ? article : h("p", { class: "muted" }, "This run left no report."),
      charts,
    ];
    this.document.replaceChildren(...parts.filter(Boolean)); // replaceChildren(null) would insert "null"
  }

  chartSection() {
    const section = h("section", { class: "charts" }, h("h2", { id: "charts" }, "Charts"));
    if (!this.host.canReadResources) {
      section.append(h("p", { class: "muted" }, "This host does not let apps read resources, so the charts cannot be shown here."));
      return section;
    }
    this.charts.forEach((uri, index) => {
      const label = `Chart ${index + 1}`;
      const figure = h("figure", { class: "chart" }, h("p", { class: "muted" }, `Loading ${label}…`));
      section.append(figure);
      this.readChart(uri).then(
        (src) => figure.replaceChildren(h("img", { src, alt: label }), h("figcaption", {}, label)),
        (error) => figure.replaceChildren(h("p", { class: "error" }, `${label} could not be read: ${errorText(error)}`)),
      );
    });
    return section;
  }

  async copy(button) {
    const copied = await copyText(this.markdown ?? "");
    button.textContent = copied ? "Copied" : "Copy failed: select the text instead";
    setTimeout(() => {
      button.textContent = "Copy as Markdown";
    }, 2500);
  }

  // -- actions --------------------------------------------------------------------------------------------

  async act(tool, args) {
    if (this.busy) return;
    this.busy = true;
    this.notice = null;
    this.render();
    try {
      const result = await this.host.callTool(tool, args);
      if (result?.isError) throw new Error(resultText(result) || `${tool} failed`);
      this.confirmingCancel = false;
      this.loaded = null;
      this.apply(result);
    } catch (error) {
      this.notice = errorText(error);
    } finally {
      this.busy = false;
      this.render();
    }
  }

  approve() {
    return this.act("approve_research", { interaction_id: this.id });
  }

  cancel() {
    return this.act("cancel_research", { interaction_id: this.id });
  }

  // -- drawing --------------------------------------------------------------------------------------------

  render() {
    const title = this.prompt?.trim() || (this.id ? `Research ${this.id}` : "Deep Research");
    this.head.replaceChildren(
      h("h1", { class: "title", title }, title),
      h(
        "p",
        { class: "meta" },
        h("span", { class: `status status-${this.status ?? "pending"}` }, LABELS[this.status] ?? this.status ?? "Starting…"),
        this.id ? h("span", { class: "muted id" }, this.id) : null,
      ),
    );
    this.renderProgress();
  }

  renderProgress() {
    const running = this.status !== null && !TERMINAL.has(this.status) && this.status !== "awaiting_approval";
    const children = [];
    this.elapsedEl = this.status ? h("p", { class: "elapsed" }, this.elapsedText()) : null;
    children.push(this.elapsedEl);
    if (running && this.notes.length) {
      children.push(
        h("h2", {}, "Latest thoughts"),
        h("ol", { class: "notes" }, this.notes.slice(-NOTES_SHOWN).map((note) => h("li", {}, note))),
      );
    } else if (running) {
      children.push(h("p", { class: "muted" }, "Gemini is planning its searches; its thoughts appear here."));
    }
    if (this.error) children.push(h("p", { class: "error", role: "alert" }, this.error));
    if (this.notice) children.push(h("p", { class: "notice", role: "status" }, this.notice));
    if (running) children.push(this.cancelControls());
    this.progress.replaceChildren(...children.filter(Boolean));
  }

  cancelControls() {
    if (!this.confirmingCancel) {
      return h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            disabled: this.busy,
            onclick: () => {
              this.confirmingCancel = true;
              this.render();
            },
          },
          "Cancel run",
        ),
      );
    }
    return h(
      "div",
      { class: "actions confirm" },
      h("span", {}, "Stop this run? Gemini stops working on it and no report is written."),
      h("button", { type: "button", class: "danger", disabled: this.busy, onclick: () => this.cancel() }, "Stop the run"),
      h(
        "button",
        {
          type: "button",
          disabled: this.busy,
          onclick: () => {
            this.confirmingCancel = false;
            this.render();
          },
        },
        "Keep it running",
      ),
    );
  }
}
