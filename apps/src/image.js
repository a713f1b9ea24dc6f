// The image view (generate_image): the full image, its prompt, a box to refine it (generate_image with the
// interaction id, through the host) and the earlier versions of the same thread, read from image:// resources.
import { dataUrl, errorText, h, resultText } from "./dom.js";

const EARLIER_VERSIONS = 8;

function previews(result) {
  return (result?.content ?? [])
    .filter((block) => block.type === "image" && typeof block.data === "string")
    .map((block) => dataUrl(block.mimeType || "image/png", block.data));
}

export class ImageView {
  constructor(root, host) {
    this.root = root;
    this.host = host;
    this.args = {};
    this.versions = []; // oldest first; each { id, prompt, text, previous, images: [src], full }
    this.selected = -1;
    this.error = null;
    this.notice = null;
    this.busy = false;
    this.history = "idle"; // idle | loading | done
    // One box for the life of the view, so that what someone is typing survives a redraw.
    this.box = h("textarea", {
      name: "refinement",
      rows: 2,
      placeholder: "What should change? e.g. “make the sky stormy”",
      "aria-label": "How to refine the image",
      onkeydown: (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) this.refine(this.box.value);
      },
    });
    this.render();
  }

  input(args) {
    this.args = args ?? {};
    this.render();
  }

  result(result) {
    if (result?.isError) {
      this.error = resultText(result) || "Gemini could not draw this.";
      this.render();
      return;
    }
    const version = this.versionFrom(result, this.args.prompt, this.args.interaction_id ?? null);
    if (!version) return;
    this.versions = [version];
    this.selected = 0;
    this.render();
    this.loadFull(version);
    this.loadEarlier();
  }

  cancelled(reason) {
    this.error = `The host cancelled the tool call${reason ? `: ${reason}` : "."}`;
    this.render();
  }

  teardown() {}

  versionFrom(result, prompt, previous) {
    const data = result?.structuredContent ?? {};
    if (!data.interaction_id) return null;
    return {
      id: data.interaction_id,
      prompt: prompt ?? "",
      text: data.text ?? "",
      previous,
      images: previews(result),
      count: Array.isArray(data.images) ? data.images.length : 0,
      full: false,
    };
  }

  // -- reading through the host ---------------------------------------------------------------------------

  async readImage(uri) {
    const read = await this.host.readResource(uri);
    const blob = (read?.contents ?? []).find((c) => typeof c.blob === "string");
    if (!blob) throw new Error(`${uri} held no image`);
    return dataUrl(blob.mimeType || "image/png", blob.blob);
  }

  async loadFull(version) {
    if (!this.host.canReadResources || !version.count) return;
    try {
      const images = [];
      for (let n = 1; n <= version.count; n += 1) images.push(await this.readImage(`image://${version.id}/${n}`));
      version.images = images;
      version.full = true;
    } catch (error) {
      this.notice = `Showing a preview: the full image could not be read (${errorText(error)}).`;
    }
    this.render();
  }

  /** Walk the thread back from the oldest version we know, through image://{id} (prompt, previous id). */
  async loadEarlier() {
    if (!this.host.canReadResources || this.history !== "idle") return;
    this.history = "loading";
    this.render();
    try {
      for (let n = 0; n < EARLIER_VERSIONS; n += 1) {
        const previous = this.versions[0]?.previous;
        if (!previous) break;
        const read = await this.host.readResource(`image://${previous}`);
        const text = (read?.contents ?? []).find((c) => typeof c.text === "string")?.text ?? "{}";
        const about = JSON.parse(text);
        const uris = Array.isArray(about.images) ? about.images : [];
        const images = [];
        for (const uri of uris) images.push(await this.readImage(uri));
        this.versions.unshift({
          id: about.interaction_id ?? previous,
          prompt: about.prompt ?? "",
          text: about.text ?? "",
          previous: about.previous_interaction_id ?? null,
          images,
          count: images.length,
          full: true,
        });
        this.selected += 1;
        this.render();
      }
    } catch (error) {
      this.notice = `Earlier versions could not all be read (${errorText(error)}).`;
    }
    this.history = "done";
    this.render();
  }

  // -- refining -------------------------------------------------------------------------------------------

  async refine(prompt) {
    const base = this.versions[this.selected];
    if (!base || this.busy || !prompt.trim()) return;
    this.busy = true;
    this.error = null;
    this.notice = null;
    this.render();
    const args = { prompt: prompt.trim(), interaction_id: base.id };
    for (const key of ["aspect_ratio", "model"]) if (this.args[key]) args[key] = this.args[key];
    try {
      const result = await this.host.callTool("generate_image", args);
      if (result?.isError) throw new Error(resultText(result) || "Gemini could not refine the image.");
      const version = this.versionFrom(result, args.prompt, base.id);
      if (!version) throw new Error("The refinement returned no interaction id.");
      // A refinement of an earlier version starts a new branch of the thread from there.
      this.versions = [...this.versions.slice(0, this.selected + 1), version];
      this.selected = this.versions.length - 1;
      this.box.value = "";
      this.host.tellModel(
        `In the image view the user refined the image with "${args.prompt}". ` +
          `The latest version is interaction_id ${version.id}.`,
      );
      this.loadFull(version);
    } catch (error) {
      this.error = errorText(error);
    } finally {
      this.busy = false;
      this.render();
    }
  }

  // -- drawing --------------------------------------------------------------------------------------------

  render() {
    const version = this.versions[this.selected];
    const children = [];
    if (!version && !this.error) {
      children.push(h("p", { class: "muted" }, this.args.prompt ? `Drawing “${this.args.prompt}”…` : "Drawing…"));
    }
    if (version) children.push(this.figure(version));
    if (this.error) children.push(h("p", { class: "error", role: "alert" }, this.error));
    if (this.notice) children.push(h("p", { class: "notice", role: "status" }, this.notice));
    if (version) children.push(this.refineForm(version));
    if (this.versions.length > 1 || this.history === "loading") children.push(this.strip());
    this.root.replaceChildren(...children);
  }

  figure(version) {
    return h(
      "figure",
      { class: "image" },
      version.images.map((src, n) =>
        h("img", {
          src,
          alt: version.prompt || "The generated image",
          "data-full": version.full ? "true" : "false",
          "data-n": n + 1,
        }),
      ),
      version.images.length ? null : h("p", { class: "muted" }, "No preview of this image."),
      h(
        "figcaption",
        {},
        h("span", { class: "prompt" }, version.prompt || "(prompt not known)"),
        version.text ? h("span", { class: "muted note" }, version.text) : null,
        h("span", { class: "muted id" }, version.id),
      ),
    );
  }

  refineForm(version) {
    // Not a <form>: hosts' sandboxes may withhold allow-forms, and then a submit event never fires.
    this.box.disabled = this.busy;
    const latest = this.selected === this.versions.length - 1;
    return h(
      "div",
      { class: "refine" },
      this.box,
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          { type: "button", class: "primary", disabled: this.busy, onclick: () => this.refine(this.box.value) },
          this.busy ? "Refining…" : "Refine",
        ),
        latest ? null : h("span", { class: "muted" }, `Refines version ${this.selected + 1}, not the latest.`),
        h("span", { class: "muted" }, version.full ? "Full-size image" : "Preview"),
      ),
    );
  }

  strip() {
    return h(
      "section",
      { class: "versions" },
      h("h2", {}, "Versions"),
      h(
        "ol",
        {},
        this.versions.map((version, index) =>
          h(
            "li",
            { class: index === this.selected ? "selected" : null },
            h(
              "button",
              {
                type: "button",
                title: version.prompt,
                "aria-pressed": index === this.selected ? "true" : "false",
                onclick: () => {
                  this.selected = index;
                  this.render();
                },
              },
              version.images[0] ? h("img", { src: version.images[0], alt: "" }) : null,
              h("span", {}, `${index + 1}. ${version.prompt || "(prompt not known)"}`),
            ),
          ),
        ),
      ),
      this.history === "loading" ? h("p", { class: "muted" }, "Reading earlier versions…") : null,
    );
  }
}
