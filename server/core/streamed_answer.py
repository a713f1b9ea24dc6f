"""A foreground answer read from a streamed create (``stream: true``): the events of one hop rebuilt into the
interaction a plain create would have returned, and the pieces a front door shows while it is written.

The events are the Interactions API's SSE payloads: ``interaction.created`` / ``interaction.status_update`` /
``interaction.completed`` (the id, status, usage and ``continuation_token``; the completed snapshot carries no
steps), ``step.start`` (a step, by ``index``), ``step.delta`` (text, annotations, images, thought summaries, a
tool call's arguments or result) and ``error``. The rebuilt interaction goes through the same continuation merge
and ``to_answer`` as an unstreamed one, so a streamed answer and an unstreamed one read the same.

:class:`TextFeed` hands text on by ``to_answer``'s rule (runs of text items join with nothing, runs split by a
tool step or an image join with a blank line, thoughts are skipped), so the text pieces of one answer, joined,
are exactly its ``text``, across continuation hops too.
"""

from __future__ import annotations

import copy
from typing import Any

from .domain import AnswerPiece, TextPiece, ToolPiece

# The snapshot fields a hop's interaction keeps from the interaction events (steps come from step events).
_SNAPSHOT = ("id", "status", "model", "agent", "created", "updated", "usage", "previous_interaction_id")
_MEDIA = frozenset({"image", "audio", "video", "document"})


class TextFeed:
    """The text of an answer as its steps arrive, by ``to_answer``'s run rule; one per answer (all hops)."""

    def __init__(self) -> None:
        self._in_run = False
        self._run_has_text = False
        self._any_text = False

    def step(self, step: dict[str, Any]) -> str:
        """A step starts: a thought changes nothing, another non-output step ends the run."""
        kind = step.get("type")
        if kind == "thought":
            return ""
        if kind != "model_output":
            self._in_run = False
            return ""
        return "".join(self.item(item) for item in step.get("content") or [] if isinstance(item, dict))

    def item(self, item: dict[str, Any]) -> str:
        if item.get("type") == "text" and isinstance(item.get("text"), str):
            return self.text(item["text"])
        if item.get("type") in _MEDIA:
            self._in_run = False
        return ""

    def text(self, text: str) -> str:
        if not self._in_run:
            self._in_run, self._run_has_text = True, False
        if not text:
            return ""
        separator = "\n\n" if self._any_text and not self._run_has_text else ""
        self._run_has_text = self._any_text = True
        return separator + text


class HopReader:
    """One streamed hop: its events in, pieces out, and at the end the interaction a create would return."""

    def __init__(self, feed: TextFeed) -> None:
        self._feed = feed
        self._snapshot: dict[str, Any] = {}
        self._steps: dict[int, dict[str, Any]] = {}
        self._errors: list[Any] = []

    def read(self, event: dict[str, Any]) -> list[AnswerPiece]:
        kind = event.get("event_type")
        if kind in ("interaction.created", "interaction.completed"):
            self._take_snapshot(event.get("interaction") or {}, final=kind == "interaction.completed")
        elif kind == "interaction.status_update":
            if isinstance(event.get("status"), str):
                self._snapshot["status"] = event["status"]
            if event.get("continuation_token"):
                self._snapshot["continuation_token"] = event["continuation_token"]
        elif kind == "step.start" and isinstance(event.get("step"), dict):
            step = copy.deepcopy(event["step"])
            self._steps[int(event.get("index", len(self._steps)))] = step
            return self._started(step)
        elif kind == "step.delta" and isinstance(event.get("delta"), dict):
            step = self._steps.get(int(event.get("index", -1)))
            if step is not None:
                return self._delta(step, event["delta"])
        elif kind == "error":
            self._errors.append(event.get("error") or {"message": "stream error"})
        return []

    def interaction(self) -> dict[str, Any]:
        out = {**self._snapshot, "steps": [self._steps[i] for i in sorted(self._steps)]}
        if self._errors:
            out["errors"] = self._errors
        return out

    def _take_snapshot(self, interaction: dict[str, Any], *, final: bool) -> None:
        for name in _SNAPSHOT:
            if interaction.get(name) is not None:
                self._snapshot[name] = interaction[name]
        token = interaction.get("continuation_token")
        if token:
            self._snapshot["continuation_token"] = token
        elif final:  # the terminal snapshot is authoritative (as the SDK's stream continuation reads it)
            self._snapshot.pop("continuation_token", None)

    def _started(self, step: dict[str, Any]) -> list[AnswerPiece]:
        pieces: list[AnswerPiece] = []
        text = self._feed.step(step)
        if text:
            pieces.append(TextPiece(text))
        tool = _tool_piece(step)
        if tool is not None:
            pieces.append(tool)
        return pieces

    def _delta(self, step: dict[str, Any], delta: dict[str, Any]) -> list[AnswerPiece]:
        apply_delta(step, delta)
        if step.get("type") != "model_output":
            return []
        kind = delta.get("type")
        if kind == "text" and isinstance(delta.get("text"), str):
            text = self._feed.text(delta["text"])
            return [TextPiece(text)] if text else []
        self._feed.item(delta)
        return []


def apply_delta(step: dict[str, Any], delta: dict[str, Any]) -> None:
    """``delta`` applied to ``step`` as the service builds the step a create returns."""
    kind = delta.get("type")
    if step.get("type") == "thought":
        _thought_delta(step, kind, delta)
    elif kind == step.get("type"):  # a tool call's arguments or a tool result, arriving as a delta
        step.update({k: v for k, v in delta.items() if k != "type"})
    else:
        _content_delta(step.setdefault("content", []), kind, delta)


def _thought_delta(step: dict[str, Any], kind: Any, delta: dict[str, Any]) -> None:
    if kind == "thought_signature":
        step["signature"] = delta.get("signature")
    elif kind == "thought_summary" and delta.get("content") is not None:
        step.setdefault("summary", []).append(delta["content"])


def _content_delta(content: list[dict[str, Any]], kind: Any, delta: dict[str, Any]) -> None:
    last_text = content[-1] if content and content[-1].get("type") == "text" else None
    if kind == "text":
        if last_text is None:
            last_text = {"type": "text", "text": ""}
            content.append(last_text)
        last_text["text"] += delta.get("text") or ""
    elif kind == "text_annotation_delta" and last_text is not None:
        last_text.setdefault("annotations", []).extend(delta.get("annotations") or [])
    elif kind in _MEDIA:
        content.append(dict(delta))


def _tool_piece(step: dict[str, Any]) -> ToolPiece | None:
    kind = str(step.get("type") or "")
    if kind.endswith("_call") and kind != "function_call":
        call_id = str(step.get("id") or kind)
        return ToolPiece(call_id, kind.removesuffix("_call"), "in_progress", _detail(step.get("arguments")))
    if kind.endswith("_result") and kind != "function_result":
        call_id = str(step.get("call_id") or kind.removesuffix("_result") + "_call")
        return ToolPiece(call_id, kind.removesuffix("_result"), "complete")
    return None


def _detail(arguments: Any) -> str | None:
    if not isinstance(arguments, dict):
        return None
    queries = arguments.get("queries")
    if isinstance(queries, list) and queries:
        return "; ".join(str(q) for q in queries)
    for name in ("code", "query", "url", "urls"):
        value = arguments.get(name)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if isinstance(value, str) and value.strip():
            return value.strip().splitlines()[0]
    return None
