"""Markdown → Slack messages, within Slack's limits: split long markdown into blocks that each fit, decide
whether an answer goes inline or as a file, and cut text safely. Pure functions: no I/O, no Slack client.

Limits (Slack's reference pages for the ``markdown`` block, ``chat.postMessage`` and ``chat.update``): markdown
blocks ≤ 12,000 characters per payload (we budget 11,000), ``text`` ≤ 4,000 (``chat.update`` refuses more).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .neutralise import neutralise
from .plain_text import plain_text

MARKDOWN_BUDGET = 11_000  # one markdown block per message, under Slack's 12,000 per payload
TEXT_LIMIT = 3_900  # the plain-text fallback; chat.update refuses more than 4,000
MAX_INLINE_PARTS = 3  # longer answers go up as a file
SUMMARY_CHARS = 2_500

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})(.*)$")


def truncate(text: str, limit: int, *, marker: str = "…") -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))].rstrip() + marker


def fallback_text(markdown: str, limit: int = TEXT_LIMIT) -> str:
    """The plain ``text`` Slack shows in notifications and where blocks cannot render: readable text, neutralised."""
    return truncate(neutralise(plain_text(markdown)), limit) or " "


# --------------------------------------------------------------------------- splitting


@dataclass(slots=True)
class _Unit:
    """A paragraph, or a whole fenced code block (with its opening line and closing marker)."""

    lines: list[str]
    fence: tuple[str, str] | None = None  # (opening line, closing marker)

    def text(self) -> str:
        return "\n".join(self.lines)


def _closes(line: str, marker: str) -> bool:
    match = _FENCE.match(line)
    return bool(
        match
        and match.group(1)[0] == marker[0]
        and len(match.group(1)) >= len(marker)
        and not match.group(2).strip()
    )


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    paragraph: list[str] = []
    code: _Unit | None = None
    for line in text.split("\n"):
        if code is not None:
            code.lines.append(line)
            if code.fence and _closes(line, code.fence[1]):
                units.append(code)
                code = None
            continue
        match = _FENCE.match(line)
        if match:
            if paragraph:
                units.append(_Unit(paragraph))
                paragraph = []
            code = _Unit([line], fence=(line, match.group(1)))
        elif not line.strip():
            if paragraph:
                units.append(_Unit(paragraph))
                paragraph = []
        else:
            paragraph.append(line)
    if code is not None and code.fence:  # an unclosed fence: close it so that the chunk renders
        code.lines.append(code.fence[1])
        units.append(code)
    if paragraph:
        units.append(_Unit(paragraph))
    return units


def _group(lines: list[str], budget: int) -> list[list[str]]:
    """Consecutive lines in groups whose joined length stays within ``budget`` (long lines are cut)."""
    groups: list[list[str]] = []
    current: list[str] = []
    size = -1
    for line in lines:
        for piece in [line[i : i + budget] for i in range(0, len(line), budget)] or [""]:
            if current and size + 1 + len(piece) > budget:
                groups.append(current)
                current, size = [], -1
            current.append(piece)
            size += 1 + len(piece)
    if current:
        groups.append(current)
    return groups


def _pieces(unit: _Unit, limit: int) -> list[str]:
    if len(unit.text()) <= limit:
        return [unit.text()]
    if unit.fence is None:
        return ["\n".join(g) for g in _group(unit.lines, limit)]
    opening, marker = unit.fence
    inner = unit.lines[1:-1]
    budget = limit - len(opening) - len(marker) - 2
    if budget < 20:  # an absurdly long info string: drop it
        opening = marker
        budget = limit - 2 * len(marker) - 2
    return ["\n".join([opening, *g, marker]) for g in _group(inner, budget)]


def split_markdown(text: str, limit: int = MARKDOWN_BUDGET) -> list[str]:
    """Split markdown into chunks of at most ``limit`` characters.

    Breaks fall between paragraphs when possible, else between lines. A code block that has to be split is
    closed at the end of each chunk and reopened (with its info string) at the top of the next one, so every
    chunk renders on its own.
    """
    if limit < 40:
        raise ValueError("limit too small to keep code fences balanced")
    text = text.strip("\n")
    if len(text) <= limit:
        return [text] if text.strip() else []
    chunks: list[str] = []
    current = ""
    for unit in _units(text):
        for piece in _pieces(unit, limit):
            if current and len(current) + 2 + len(piece) > limit:
                chunks.append(current)
                current = ""
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class AnswerPlan:
    """How to post an answer: inline ``parts`` (one markdown block each), or a file with a short intro."""

    parts: tuple[str, ...]
    file_markdown: str | None = None
    intro: str | None = None


def plan_answer(text: str, *, max_parts: int = MAX_INLINE_PARTS, limit: int = MARKDOWN_BUDGET) -> AnswerPlan:
    text = text.strip() or "_(Gemini returned no text.)_"
    parts = split_markdown(text, limit)
    if len(parts) <= max_parts:
        return AnswerPlan(parts=tuple(parts))
    intro = truncate(first_paragraphs(text, SUMMARY_CHARS), SUMMARY_CHARS)
    return AnswerPlan(
        parts=(),
        file_markdown=text,
        intro=f"{intro}\n\n_The full answer ({len(text):,} characters) is in the attached file._",
    )


def markdown_message(markdown: str) -> dict[str, Any]:
    """Keyword arguments for chat.postMessage: one markdown block and a plain-text fallback, both neutralised."""
    return {
        "text": fallback_text(markdown),
        "blocks": [{"type": "markdown", "text": truncate(neutralise(markdown), MARKDOWN_BUDGET)}],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def first_paragraphs(text: str, limit: int) -> str:
    """The opening paragraphs of ``text`` up to about ``limit`` characters, outside code fences."""
    out: list[str] = []
    size = 0
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        if paragraph.lstrip().startswith(("```", "~~~")):
            break
        if size + len(paragraph) > limit and out:
            break
        out.append(paragraph.strip())
        size += len(paragraph) + 2
    return "\n\n".join(out)


# --------------------------------------------------------------------------- streamed answers

_PARTIAL_ENTITY = re.compile(r"&(?:l|lt|g|gt)?$")


def settled(text: str) -> str:
    """``text`` without a trailing, unfinished ``&lt;`` / ``&gt;`` (a ``<`` or ``>`` neutralised as it was cut),
    so every streamed chunk holds whole entities."""
    return _PARTIAL_ENTITY.sub("", text)


@dataclass(frozen=True, slots=True)
class Cut:
    """Where a message that is full ends: at ``at``; ``close`` ends it (a code block open there), ``reopen``
    starts the next message (the same code block again)."""

    at: int
    close: str = ""
    reopen: str = ""


def cut_message(text: str, start: int, limit: int) -> Cut:
    """Where to end the message holding ``text[:limit]`` once ``text`` is longer, at or after ``start`` (what is
    already shown): the last paragraph break outside a code block, else the last line break, else ``limit``."""
    window = text[:limit]
    best = None
    for match in re.finditer(r"\n\n", window):
        if match.start() >= start and _open_fence(window[: match.start()]) is None:
            best = match.start()
    if best is None:
        line = window.rfind("\n")
        best = line if line >= start else max(start, limit)
    fence = _open_fence(text[:best])
    if fence is None:
        return Cut(best)
    return Cut(best, close="\n" + fence[1], reopen=fence[0] + "\n")


def _open_fence(text: str) -> tuple[str, str] | None:
    """The opening line and marker of the code block still open at the end of ``text``, if one is."""
    opening: tuple[str, str] | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match is None:
            continue
        if opening is None:
            opening = (line.strip(), match.group(1))
        elif (
            match.group(1)[0] == opening[1][0]
            and len(match.group(1)) >= len(opening[1])
            and not match.group(2).strip()
        ):
            opening = None
    return opening
