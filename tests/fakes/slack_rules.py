"""The rules of Slack the fake enforces, each with the Slack doc it comes from, and the way Slack writes the text
it sends: what makes ``tests/fakes/slack_api.py`` as strict as Slack.

Most rules cost nothing and are on by default. Per-channel rate limiting slows every test down, so it is off
unless a test turns it on (``SlackRules(post_interval_seconds=1.0)``, Slack's own figure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- what a test can switch


@dataclass(frozen=True, slots=True)
class SlackRules:
    # docs.slack.dev/reference/methods/chat.postMessage, errors: not_in_channel, channel_not_found.
    membership: bool = True
    # chat.postMessage: "thread_ts: Provide another message's ts value to make this message a reply. Avoid using a
    # reply's ts value; use its parent instead." A ts that is no message there (or a reply's) is refused.
    threads_must_exist: bool = True
    # docs.slack.dev/reference/block-kit/blocks: each block type's fields and limits (see check_blocks).
    validate_blocks: bool = True
    # docs.slack.dev/apis/web-api/rate-limits, "Posting messages": "generally allows apps to post one message per
    # second per channel, while allowing bursts"; past that, HTTP 429 with Retry-After. 0 turns the rule off.
    post_interval_seconds: float = 0.0
    post_burst: int = 1  # messages allowed per interval per channel
    retry_after_seconds: int | None = None  # the Retry-After to send; None: until the channel frees up
    # docs.slack.dev/interactivity/handling-user-interaction, "Message responses": a response_url may be used
    # "up to 5 times within 30 minutes".
    response_url_uses: int = 5


# --------------------------------------------------------------------------- conversations


@dataclass(slots=True)
class Channel:
    """A conversation and whether the bot is in it. Kinds as Slack names them in ``channel_type``."""

    id: str
    kind: str = "channel"  # channel (public) | group (private) | im | mpim
    name: str = ""
    member: bool = True

    @property
    def public(self) -> bool:
        return self.kind == "channel"


def default_channel(channel_id: str) -> Channel:
    """A conversation no test declared: ``D…`` is a DM with the bot, ``G…`` a private channel, else public;
    the bot is in each. Declare others with ``FakeSlack.add_channel`` (a DM between two people, a group DM)."""
    kind = {"D": "im", "G": "group"}.get(channel_id[:1], "channel")
    name = {"im": "directmessage", "group": "privategroup"}.get(kind, "general")
    return Channel(channel_id, kind=kind, name=name)


def not_a_member_error(channel: Channel) -> str:
    """chat.postMessage into a conversation the bot is not in: ``not_in_channel`` for a public channel (it could
    join), ``channel_not_found`` for anything private, DMs and group DMs included (it cannot even see them)."""
    return "not_in_channel" if channel.public else "channel_not_found"


# --------------------------------------------------------------------------- text, as Slack sends it

# What Slack's composer writes for what a person picked: a mention, a channel, a special mention, a link.
_MARKUP = re.compile(r"<(?:[@#!][^<>\s|]*|(?:https?|mailto|tel):[^<>\s|]*)(?:\|[^<>]*)?>")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(typed: str) -> str:
    """The text of an event or a command as Slack sends it for what a person typed: ``&``, ``<`` and ``>``
    escaped (docs.slack.dev/messaging/formatting-message-text, "Escaping text"). Mentions, channels and links the
    composer made are written in a test as Slack sends them (``<@U2>``, ``<#C1|general>``, ``<https://a|b>``)
    and kept as they are."""
    out: list[str] = []
    last = 0
    for match in _MARKUP.finditer(typed):
        out.append(_escape(typed[last : match.start()]))
        out.append(match.group())
        last = match.end()
    out.append(_escape(typed[last:]))
    return "".join(out)


# --------------------------------------------------------------------------- Block Kit

MESSAGE_BLOCKS = 50  # docs.slack.dev/reference/block-kit/blocks: "up to 50 blocks in each message"
VIEW_BLOCKS = 100  # "... and 100 blocks in modals or Home tabs"
MARKDOWN_BLOCKS_LIMIT = 12_000  # markdown block: "cumulative limit for all markdown blocks in a payload"
# Which blocks each surface takes (docs.slack.dev/reference/block-kit/blocks, "Available in surfaces"): the
# markdown block is for messages only.
SURFACES = {
    "message": frozenset(
        {
            "section",
            "actions",
            "context",
            "context_actions",
            "divider",
            "header",
            "image",
            "markdown",
            "rich_text",
        }
    ),
    "home": frozenset({"section", "actions", "context", "divider", "header", "image", "rich_text"}),
}


def _text_object(obj: Any, limit: int, *, plain_only: bool = False) -> bool:
    # docs.slack.dev/reference/block-kit/composition-objects/text-object: type plain_text or mrkdwn, text 1+.
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return False
    if plain_only and obj["type"] != "plain_text":
        return False
    text = obj.get("text")
    return isinstance(text, str) and 1 <= len(text) <= limit


def _button(element: dict[str, Any]) -> bool:
    # docs.slack.dev/reference/block-kit/block-elements/button-element: text plain_text ≤ 75, action_id ≤ 255,
    # value ≤ 2000, style primary|danger; confirm: title ≤ 100, text ≤ 300, confirm/deny ≤ 30.
    if not _text_object(element.get("text"), 75, plain_only=True):
        return False
    if len(str(element.get("action_id", ""))) > 255 or len(str(element.get("value", ""))) > 2000:
        return False
    if element.get("style") not in (None, "primary", "danger"):
        return False
    confirm = element.get("confirm")
    return confirm is None or (
        _text_object(confirm.get("title"), 100, plain_only=True)
        and _text_object(confirm.get("text"), 300)
        and _text_object(confirm.get("confirm"), 30, plain_only=True)
        and _text_object(confirm.get("deny"), 30, plain_only=True)
    )


def _block(block: Any, surface: str) -> bool:
    if not isinstance(block, dict) or block.get("type") not in SURFACES[surface]:
        return False
    if len(str(block.get("block_id", ""))) > 255:
        return False
    kind = block["type"]
    if kind == "header":  # header block: plain_text, max 150 characters
        return _text_object(block.get("text"), 150, plain_only=True)
    if kind == "section":  # section block: text ≤ 3000; fields ≤ 10 of ≤ 2000 each; text or fields
        fields = block.get("fields") or []
        text_ok = "text" not in block or _text_object(block["text"], 3000)
        fields_ok = len(fields) <= 10 and all(_text_object(f, 2000) for f in fields)
        return text_ok and fields_ok and ("text" in block or bool(fields))
    if kind == "context":  # context block: 1 to 10 elements (text objects or images)
        elements = block.get("elements") or []
        return 1 <= len(elements) <= 10 and all(
            e.get("type") == "image" or _text_object(e, 3000) for e in elements
        )
    if kind == "actions":  # actions block: up to 25 elements
        elements = block.get("elements") or []
        return 1 <= len(elements) <= 25 and all(e.get("type") != "button" or _button(e) for e in elements)
    if kind == "markdown":  # markdown block: text required
        return isinstance(block.get("text"), str) and bool(block["text"])
    if kind == "context_actions":  # context actions block: 1 to 5 feedback_buttons / icon_button elements
        elements = block.get("elements") or []
        return 1 <= len(elements) <= 5 and all(_feedback_buttons(e) for e in elements)
    return True


def _feedback_buttons(element: Any) -> bool:
    # docs.slack.dev/reference/block-kit/block-elements/feedback-buttons-element: action_id ≤ 255; positive_button
    # and negative_button each with text (plain_text ≤ 75) and value (≤ 2000), accessibility_label optional.
    if not isinstance(element, dict) or element.get("type") != "feedback_buttons":
        return isinstance(element, dict) and element.get("type") == "icon_button"
    if len(str(element.get("action_id", ""))) > 255:
        return False
    for name in ("positive_button", "negative_button"):
        button = element.get(name)
        if not isinstance(button, dict) or not _text_object(button.get("text"), 75, plain_only=True):
            return False
        if not isinstance(button.get("value"), str) or not 1 <= len(button["value"]) <= 2000:
            return False
    return True


def check_blocks(blocks: Any, surface: str) -> str | None:
    """The error Slack answers for ``blocks`` on ``surface`` (``message`` or ``home``), or None."""
    if blocks in (None, []):
        return None
    limit = MESSAGE_BLOCKS if surface == "message" else VIEW_BLOCKS
    if not isinstance(blocks, list) or len(blocks) > limit:
        return "invalid_blocks"
    if sum(len(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "markdown") > (
        MARKDOWN_BLOCKS_LIMIT
    ):
        return "msg_blocks_too_long"
    if not all(_block(b, surface) for b in blocks):
        return "invalid_blocks"
    return None
