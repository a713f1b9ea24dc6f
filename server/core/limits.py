"""The size rule for prompts: one place, used by every entry point of the core (answers, images, research)."""

from __future__ import annotations

from .errors import InvalidInput

MAX_PROMPT_CHARS = 100_000


def check_prompt(prompt: str | None, *, what: str = "prompt", hint: str = "say what you want") -> str:
    """``prompt`` stripped; InvalidInput when it is empty or longer than ``MAX_PROMPT_CHARS``."""
    text = (prompt or "").strip()
    if not text:
        raise InvalidInput(f"The {what} is empty: {hint}.")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidInput(
            f"The {what} is {len(text):,} characters; the limit is {MAX_PROMPT_CHARS:,}. "
            "Attach long material as a file instead."
        )
    return text
