// Model-written markdown → a sanitised DOM fragment, with a table of contents and citations as links.
//
// marked renders (it passes raw HTML through, as markdown allows), then DOMPurify removes everything that could
// run or reach out: scripts, event-handler attributes, javascript: URLs, forms, styles, SVG/MathML. What is left
// is adjusted for a sandboxed view that may fetch nothing: links open through the host, remote images become
// links, tables scroll sideways, headings get ids for the table of contents.
import DOMPurify from "dompurify";
import { Marked } from "marked";

import { h } from "./dom.js";

const marked = new Marked({ gfm: true, async: false });

const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "select", "option", "textarea", "dialog", "template", "base"],
  // Our own ids (headings) and classes only: model HTML may not clobber them or dress up as our buttons.
  FORBID_ATTR: ["style", "id", "name", "class", "srcset", "target", "ping", "formaction"],
  RETURN_DOM_FRAGMENT: true,
};

const SOURCE_HEADINGS = /^(sources|references|citations|bibliography|works cited)\b/i;
const CITATION = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;
const SAFE_LINK = /^(https?:|mailto:)/i;

/**
 * Render `markdown` into a fragment. `openLink(url)` is called for clicks on links that leave the report.
 * Returns { fragment, toc: [{ id, text, level }] }.
 */
export function renderMarkdown(markdown, { openLink }) {
  const fragment = DOMPurify.sanitize(marked.parse(markdown), PURIFY);
  fixLinks(fragment, openLink);
  fixImages(fragment, openLink);
  for (const table of fragment.querySelectorAll("table")) {
    const wrap = h("div", { class: "table-wrap" });
    table.replaceWith(wrap);
    wrap.append(table);
  }
  const toc = numberHeadings(fragment);
  linkCitations(fragment, openLink);
  return { fragment, toc };
}

function external(url, openLink) {
  return (event) => {
    event.preventDefault();
    openLink(url);
  };
}

function fixLinks(root, openLink) {
  for (const a of root.querySelectorAll("a")) {
    const href = a.getAttribute("href") ?? "";
    if (SAFE_LINK.test(href)) {
      a.setAttribute("rel", "noopener noreferrer");
      a.setAttribute("title", href);
      a.addEventListener("click", external(href, openLink));
    } else if (!href.startsWith("#")) {
      a.replaceWith(...a.childNodes); // relative or unknown scheme: nothing to go to from a sandboxed view
    }
  }
}

function fixImages(root, openLink) {
  for (const img of root.querySelectorAll("img")) {
    const src = img.getAttribute("src") ?? "";
    if (src.startsWith("data:image/")) continue;
    const label = `Image: ${img.getAttribute("alt") || src}`;
    const link = SAFE_LINK.test(src)
      ? h("a", { href: src, rel: "noopener noreferrer", title: src, onclick: external(src, openLink) }, label)
      : h("span", {}, label);
    img.replaceWith(h("span", { class: "remote-image" }, link));
  }
}

function slug(text, used) {
  const base =
    text
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[^\p{L}\p{N}]+/gu, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60) || "section";
  let id = `h-${base}`;
  for (let n = 2; used.has(id); n += 1) id = `h-${base}-${n}`;
  used.add(id);
  return id;
}

function numberHeadings(root) {
  const used = new Set();
  const toc = [];
  for (const heading of root.querySelectorAll("h1, h2, h3")) {
    const text = heading.textContent.trim();
    heading.id = slug(text, used);
    toc.push({ id: heading.id, text, level: Number(heading.tagName[1]) });
  }
  return toc;
}

/** The nth entry of the report's numbered source list → its first link, when the report has one. */
function sources(root) {
  for (const heading of root.querySelectorAll("h1, h2, h3, h4")) {
    if (!SOURCE_HEADINGS.test(heading.textContent.trim())) continue;
    let list = heading.nextElementSibling;
    while (list && list.tagName !== "OL" && !/^H[1-6]$/.test(list.tagName)) list = list.nextElementSibling;
    if (list?.tagName !== "OL") continue;
    const start = Number(list.getAttribute("start") || 1);
    const found = new Map();
    [...list.children].forEach((item, index) => {
      const link = item.querySelector("a[href]");
      if (link && SAFE_LINK.test(link.getAttribute("href"))) {
        found.set(start + index, { url: link.getAttribute("href"), title: item.textContent.trim() });
      }
    });
    return found;
  }
  return new Map();
}

/** "… grew 40% [2]" → "[2]" becomes a link to source 2. Text inside links, code and the source list is left. */
function linkCitations(root, openLink) {
  const known = sources(root);
  if (!known.size) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      if (node.parentElement?.closest("a, code, pre")) return NodeFilter.FILTER_REJECT;
      CITATION.lastIndex = 0;
      return CITATION.test(node.data) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT;
    },
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const parts = [];
    let last = 0;
    for (const match of node.data.matchAll(CITATION)) {
      const numbers = match[1].split(",").map((n) => Number(n.trim()));
      if (!numbers.every((n) => known.has(n))) continue;
      parts.push(node.data.slice(last, match.index), "[");
      numbers.forEach((n, i) => {
        const { url, title } = known.get(n);
        if (i) parts.push(", ");
        parts.push(
          h("a", { href: url, class: "cite", rel: "noopener noreferrer", title, onclick: external(url, openLink) }, n),
        );
      });
      parts.push("]");
      last = match.index + match[0].length;
    }
    if (!parts.length) continue;
    parts.push(node.data.slice(last));
    node.replaceWith(...parts);
  }
}

/** The table of contents for `toc` entries (headings below the title), or null when there are too few. */
export function tableOfContents(toc) {
  const entries = toc.filter((entry, index) => !(index === 0 && entry.level === 1));
  if (entries.length < 2) return null;
  const top = Math.min(...entries.map((entry) => entry.level));
  return h(
    "nav",
    { class: entries.length > 8 ? "toc long" : "toc", "aria-label": "Contents" },
    h("h2", {}, "Contents"),
    h(
      "ol",
      {},
      entries.map((entry) =>
        h(
          "li",
          { class: `toc-${entry.level - top}` },
          h(
            "a",
            {
              href: `#${entry.id}`,
              onclick: (event) => {
                event.preventDefault();
                document.getElementById(entry.id)?.scrollIntoView({ behavior: "smooth", block: "start" });
              },
            },
            entry.text,
          ),
        ),
      ),
    ),
  );
}
