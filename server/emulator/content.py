"""Deterministic model answers that prove what arrived, and realistic usage numbers.

A text answer reads, line by line (lines without data are left out)::

    You said: "<the text of the last user turn>"
    This is the first turn of this conversation.
      -- or --  This conversation has 1 earlier turn; it began with: 'My name is Ada'
    System instruction: "<system_instruction>"
    Tools requested: google_search, url_context
    Received image/png (1234 bytes)            one line per non-text part, in order
    Web search: "<query>" is covered by an example source [1].     (a url_citation annotation)
    Read <url> (status: success)               url_context, per URL found in the prompt
    Code execution printed: <number of words in the prompt>
    Thinking level: low                        when generation_config.thinking_level was given
    Answered by <model>.                       the model that served it (a routed id names its successor)

With a JSON ``response_format`` the text is instead a JSON document: an instance of the schema, or
``{"prompt": ..., "earlier_turns": n}`` when no schema was given.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .ids import new_call_id
from .parsing import CreateRequest, MediaPart
from .schema_instance import schema_instance

_URL = re.compile(r"https?://[^\s)>\]\"']+")
_DIRECTIVE = re.compile(r"\[emulator:[^\]]*\]")


@dataclass
class Conversation:
    """What the server-side history says about the turn being answered."""

    earlier_turns: int = 0
    first_message: str | None = None
    history_chars: int = 0


@dataclass
class Answer:
    text: str
    annotations: list[dict[str, Any]] = field(default_factory=list)
    thought: str = ""
    tool_steps: list[dict[str, Any]] = field(default_factory=list)


def clean_prompt(prompt: str) -> str:
    return " ".join(_DIRECTIVE.sub("", prompt).split())


def text_answer(req: CreateRequest, convo: Conversation) -> Answer:
    prompt = req.prompt
    snippet = clean_prompt(prompt)[:80] or "(no text)"
    answer = Answer(
        text="",
        thought=f'**Reading the request**\n\nThe user asked: "{snippet}". '
        f"I will answer directly and state what I received.",
    )
    if req.wants_json:
        value = (
            schema_instance(req.json_schema, clean_prompt(prompt))
            if req.json_schema is not None
            else {"prompt": prompt, "earlier_turns": convo.earlier_turns}
        )
        answer.text = json.dumps(value, ensure_ascii=False)
        return answer

    lines = [f'You said: "{prompt}"' if prompt else "You sent no text."]
    if convo.earlier_turns == 0:
        lines.append("This is the first turn of this conversation.")
    else:
        noun = "turn" if convo.earlier_turns == 1 else "turns"
        lines.append(
            f"This conversation has {convo.earlier_turns} earlier {noun}; it began with: '{convo.first_message}'"
        )
    if req.system_instruction:
        lines.append(f'System instruction: "{req.system_instruction}"')
    if req.tools:
        lines.append("Tools requested: " + ", ".join(req.tools))
    lines.extend(describe_media(part) for part in req.media)
    body = "\n".join(lines) + "\n"

    if "google_search" in req.tools:
        call_id = new_call_id()
        answer.tool_steps += [
            {
                "type": "google_search_call",
                "id": call_id,
                "arguments": {"queries": [snippet]},
                "search_type": "web_search",
            },
            {
                "type": "google_search_result",
                "call_id": call_id,
                "result": [{"search_suggestions": f'<div class="emulator-search">{snippet}</div>'}],
            },
        ]
        sentence = f'Web search: "{snippet}" is covered by an example source [1].'
        answer.annotations.append(
            {
                "type": "url_citation",
                "url": search_url(snippet),
                "title": f"Example source for {snippet[:40]}",
                "start_index": len(body),
                "end_index": len(body) + len(sentence),
            }
        )
        body += sentence + "\n"
    if "url_context" in req.tools:
        urls = _URL.findall(prompt)
        if urls:
            call_id = new_call_id()
            answer.tool_steps += [
                {"type": "url_context_call", "id": call_id, "arguments": {"urls": urls}},
                {
                    "type": "url_context_result",
                    "call_id": call_id,
                    "result": [{"url": u, "status": "success"} for u in urls],
                },
            ]
            body += "".join(f"Read {u} (status: success)\n" for u in urls)
    if "code_execution" in req.tools:
        call_id = new_call_id()
        words = len(clean_prompt(prompt).split())
        answer.tool_steps += [
            {
                "type": "code_execution_call",
                "id": call_id,
                "arguments": {"language": "python", "code": f"print(len({clean_prompt(prompt)!r}.split()))"},
            },
            {"type": "code_execution_result", "call_id": call_id, "result": f"{words}\n"},
        ]
        body += f"Code execution printed: {words}\n"
    if req.thinking_level:
        body += f"Thinking level: {req.thinking_level}\n"
    answer.text = body + f"Answered by {req.served_model or req.agent}."
    return answer


def describe_media(part: MediaPart) -> str:
    if part.size is not None:
        return f"Received {part.mime_type} ({part.size} bytes)"
    return f"Received {part.mime_type} from {part.uri}"


def search_url(query: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", query.lower()).strip("-")[:48] or "query"
    return f"https://example.com/emulator/search/{slug}"


def research_thoughts(topic: str, steps: int) -> list[tuple[str, str]]:
    """(summary, search query) for each research round."""
    plans = (
        (
            "Planning the research",
            f'I\'m breaking "{topic}" into sub-questions and deciding what to look up first.',
        ),
        ("Searching for background", f"I'm collecting overviews and definitions related to {topic}."),
        ("Gathering recent data", f"I'm looking for recent figures and reports about {topic}."),
        (
            "Comparing sources",
            "Some sources disagree; I'm checking which claims are supported independently.",
        ),
        ("Looking at case studies", f"I'm reading case studies that show {topic} in practice."),
        ("Checking open questions", "I'm noting risks and gaps that the sources leave open."),
        ("Structuring the report", "I have enough material and I'm outlining the report's sections."),
    )
    out = []
    for i in range(steps):
        title, body = plans[i] if i < len(plans) else (f"Deepening the analysis ({i + 1})", plans[3][1])
        out.append((f"**{title}**\n\n{body}", f"{topic} {title.lower()}"))
    return out


def tokens(chars: int) -> int:
    return math.ceil(chars / 4) if chars > 0 else 0


def media_tokens(part: MediaPart) -> int:
    size = part.size or 0
    return {
        "image": 258,
        "video": 1032,
        "audio": max(25, size // 1000),
        "document": max(258, size // 400),
    }.get(part.type, 258)


def usage(
    *,
    input_chars: int,
    media: list[MediaPart],
    output_chars: int,
    output_images: int = 0,
    thought_chars: int = 0,
    tool_calls: int = 0,
    searches: int = 0,
) -> dict[str, Any]:
    """Every field of the API's Usage: totals, by-modality counts, tool-use tokens and grounding tool counts."""
    by_in: dict[str, int] = {"text": max(1, tokens(input_chars))}
    for part in media:
        by_in[part.type] = by_in.get(part.type, 0) + media_tokens(part)
    by_out: dict[str, int] = {}
    if output_chars:
        by_out["text"] = tokens(output_chars)
    if output_images:
        by_out["image"] = 1290 * output_images
    total_in, total_out = sum(by_in.values()), sum(by_out.values())
    thought = tokens(thought_chars) * 3
    tool = 64 * tool_calls
    out: dict[str, Any] = {
        "total_input_tokens": total_in,
        "total_output_tokens": total_out,
        "total_thought_tokens": thought,
        "total_cached_tokens": 0,
        "total_tool_use_tokens": tool,
        "total_tokens": total_in + total_out + thought + tool,
        "input_tokens_by_modality": [{"modality": k, "tokens": v} for k, v in by_in.items()],
        "output_tokens_by_modality": [{"modality": k, "tokens": v} for k, v in by_out.items()],
    }
    if tool:
        out["tool_use_tokens_by_modality"] = [{"modality": "text", "tokens": tool}]
    if searches:
        out["grounding_tool_count"] = [{"type": "google_search", "count": searches}]
    return out
