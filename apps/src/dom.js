// Building the page from our own data: elements and text nodes only (never innerHTML), so nothing a model or a
// server wrote is ever parsed as markup here. The one place that turns markdown into markup is markdown.js.

/** `h("button", { class: "primary", onclick: f }, "Run it")` → an element; null/false children are skipped. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** "42 s", "3 min 05 s", "1 h 02 min": elapsed time the way people read it. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** The text of a tool result's content blocks (what a person should read when a call failed). */
export function resultText(result) {
  return (result?.content ?? [])
    .filter((block) => block.type === "text")
    .map((block) => block.text)
    .join("\n")
    .trim();
}

/** An error thrown by the host bridge (a JSON-RPC error or a failed tool) as one readable line. */
export function errorText(error) {
  if (!error) return "Unknown error.";
  if (typeof error === "string") return error;
  return error.message || String(error);
}

/** A data: URL for a base64 blob; the page's policy allows images from data: URLs only. */
export function dataUrl(mimeType, base64) {
  return `data:${mimeType};base64,${base64}`;
}

/** Copy text: the async clipboard when the host allows it, else the older copy command. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { class: "offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
    area.remove();
    return copied;
  }
}
