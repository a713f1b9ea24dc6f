"""Gemini's interaction JSON (``steps``, ``usage``, stream events) read into our domain types.

Text follows google-genai's ``output_text`` rule: text items in a row (across ``model_output`` steps, thoughts
skipped) are one run and join with nothing, so the parts of an answer that arrived in several continuation hops
read as one; runs split by a tool step or an image join with a blank line. Images come inline (``data``) or by
``uri`` (``delivery: "uri"``, report charts): those are fetched by the gateway and passed in as ``fetched``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from .domain import Answer, Citation, GeneratedImage, StreamUpdate, Usage


def to_answer(data: Mapping[str, Any], *, fetched: Mapping[str, bytes] | None = None) -> Answer:
    runs: list[list[str]] = []
    in_run = False
    thoughts: list[str] = []
    prompts: list[str] = []
    citations: dict[str, Citation] = {}
    images: list[GeneratedImage] = []
    for step in data.get("steps") or []:
        kind = step.get("type")
        if kind == "thought":
            thoughts.extend(s["text"] for s in step.get("summary") or [] if s.get("text"))
            continue
        if kind == "user_input":  # a GET's timeline starts with what the user sent
            prompts.extend(c["text"] for c in step.get("content") or [] if isinstance(c.get("text"), str))
        if kind != "model_output":
            in_run = False
            continue
        for item in step.get("content") or []:
            if item.get("type") == "text" and isinstance(item.get("text"), str):
                if not in_run:
                    runs.append([])
                    in_run = True
                runs[-1].append(item["text"])
                for note in item.get("annotations") or []:
                    if note.get("url"):
                        citations.setdefault(note["url"], Citation(url=note["url"], title=note.get("title")))
                continue
            in_run = False
            image = _image(item, fetched or {})
            if image is not None:
                images.append(image)
    error = None
    if data.get("errors"):
        error = "; ".join(str(e.get("message") or e) for e in data["errors"] if e)
    usage = data.get("usage")
    hop_ids = tuple(i for i in data.get("continuation_ids") or [] if isinstance(i, str))
    if not hop_ids and data.get("id"):
        hop_ids = (str(data["id"]),)
    return Answer(
        interaction_id=data.get("id", ""),
        status=str(data.get("status") or "completed"),
        model=data.get("model"),
        agent=data.get("agent"),
        text="\n\n".join(t for t in ("".join(run) for run in runs) if t),
        thoughts=tuple(thoughts),
        citations=tuple(citations.values()),
        images=tuple(images),
        usage=to_usage(usage) if isinstance(usage, Mapping) else None,
        error=error,
        hop_ids=hop_ids,
        prompt="\n".join(prompts),
        previous_interaction_id=data.get("previous_interaction_id"),
    )


def _image(item: Mapping[str, Any], fetched: Mapping[str, bytes]) -> GeneratedImage | None:
    if item.get("type") != "image":
        return None
    mime = item.get("mime_type") or "image/png"
    if item.get("data"):
        return GeneratedImage(data=base64.b64decode(item["data"]), mime_type=mime)
    uri = item.get("uri")
    if isinstance(uri, str) and uri in fetched:
        return GeneratedImage(data=fetched[uri], mime_type=mime)
    return None


def image_uris(data: Mapping[str, Any]) -> list[str]:
    """The ``uri`` of every image of the output that carries no inline data."""
    return [
        item["uri"]
        for step in data.get("steps") or []
        if step.get("type") == "model_output"
        for item in step.get("content") or []
        if item.get("type") == "image" and not item.get("data") and isinstance(item.get("uri"), str)
    ]


def to_usage(data: Mapping[str, Any]) -> Usage:
    initial = data.get("initial_input_tokens")
    return Usage(
        input_tokens=_int(data.get("total_input_tokens")),
        output_tokens=_int(data.get("total_output_tokens")),
        thought_tokens=_int(data.get("total_thought_tokens")),
        cached_tokens=_int(data.get("total_cached_tokens")),
        tool_use_tokens=_int(data.get("total_tool_use_tokens")),
        total_tokens=_int(data.get("total_tokens")),
        initial_input_tokens=_int(initial) if initial is not None else None,
        input_by_modality=_counts(data.get("input_tokens_by_modality"), "modality", "tokens"),
        output_by_modality=_counts(data.get("output_tokens_by_modality"), "modality", "tokens"),
        cached_by_modality=_counts(data.get("cached_tokens_by_modality"), "modality", "tokens"),
        tool_use_by_modality=_counts(data.get("tool_use_tokens_by_modality"), "modality", "tokens"),
        grounding_tool_counts=_counts(data.get("grounding_tool_count"), "type", "count"),
    )


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _counts(items: Any, key: str, value: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and item.get(key) is not None:
            name = str(item[key])
            out[name] = out.get(name, 0) + _int(item.get(value))
    return out


def to_update(data: Mapping[str, Any]) -> StreamUpdate | None:
    kind = data.get("event_type")
    event_id = data.get("event_id")
    if kind == "interaction.completed":
        return StreamUpdate("completed", event_id, status=(data.get("interaction") or {}).get("status"))
    if kind == "interaction.status_update":
        return StreamUpdate("status", event_id, status=data.get("status"))
    if kind == "error":
        error = data.get("error") or {}
        return StreamUpdate("error", event_id, text=str(error.get("message") or "stream error"))
    if kind == "step.delta":
        delta = data.get("delta") or {}
        if delta.get("type") == "thought_summary":
            content = delta.get("content") or {}
            text = content.get("text") if isinstance(content, dict) else None
            return StreamUpdate("progress", event_id, text=text or delta.get("text"))
    if kind == "step.start":
        step = data.get("step") or {}
        if step.get("type") == "thought":
            texts = [s.get("text") for s in step.get("summary") or [] if s.get("text")]
            if texts:
                return StreamUpdate("progress", event_id, text=texts[-1])
    if event_id is None:
        return None
    return StreamUpdate("other", event_id)
