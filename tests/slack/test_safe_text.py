"""Text in and out of Slack as pure functions: control sequences neutralised, readable fallbacks, and Slack's
escaping undone (the same functions the listeners and posts use; end to end in test_workspace.py)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from slack_bot.incoming import unescape
from slack_bot.markdown import fallback_text, markdown_message
from slack_bot.neutralise import neutralise
from slack_bot.plain_text import plain_text

# Anything Slack would read as a control sequence: "<" followed by a character, up to ">".
CONTROL = re.compile(r"<[^<>\s]")
PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U0123ABC>", "<!subteam^S0123|@eng>", "<https://x.io|ok>")


def test_every_control_sequence_is_neutralised() -> None:
    text = "Hello " + " and ".join(PINGS) + ", <#C0123|general>."
    safe = neutralise(text)
    assert not CONTROL.search(safe)
    assert "&lt;!channel&gt;" in safe and "&lt;@U0123ABC&gt;" in safe


def test_block_quotes_and_ampersands_survive() -> None:
    text = "> a quote with <!here>\n>> nested\n  > indented\na > b & c <= d\nhttps://x.io/?a=1&b=2"
    assert neutralise(text) == (
        "> a quote with &lt;!here&gt;\n>> nested\n  > indented\na &gt; b & c &lt;= d\nhttps://x.io/?a=1&b=2"
    )


@given(st.text(alphabet="<>!@#&|: \nabcU1>", max_size=60))
def test_neutralise_is_idempotent_and_safe(text: str) -> None:
    once = neutralise(text)
    assert neutralise(once) == once
    assert "<" not in once


@given(st.text(alphabet="<>!@#&|: \nabc>", max_size=60), st.integers(min_value=0, max_value=60))
def test_a_prefix_neutralises_to_a_prefix(text: str, cut: int) -> None:
    """Streamed text can be neutralised as it grows: what was sent never changes."""
    assert neutralise(text).startswith(neutralise(text[:cut]))


def test_markdown_messages_are_neutralised_in_the_block_and_the_fallback() -> None:
    message = markdown_message("**Alert** <!channel>: see [the doc](https://d.io/?a=1&b=2) and <@U9>.")
    block = message["blocks"][0]["text"]
    assert block == "**Alert** &lt;!channel&gt;: see [the doc](https://d.io/?a=1&b=2) and &lt;@U9&gt;."
    assert message["text"] == "Alert &lt;!channel&gt;: see the doc (https://d.io/?a=1&b=2) and &lt;@U9&gt;."


def test_fallbacks_are_readable_text_not_markdown() -> None:
    markdown = (
        "# Result\n\nIt is **fast** and _cheap_; see [docs](https://d.io) or <https://e.io>.\n\n"
        "- one\n- two\n  1. nested\n\n> quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "```python\nif a < b:\n    pass\n```\n\n![chart](https://c.io/x.png) `x = 1` ~~old~~"
    )
    assert plain_text(markdown) == (
        "Result\n\nIt is fast and cheap; see docs (https://d.io) or https://e.io.\n\n"
        "• one\n• two\n  1. nested\n\n> quoted\n\na | b\n1 | 2\n\nif a < b:\n    pass\n\n"
        "chart (https://c.io/x.png) `x = 1` old"
    )
    assert "**" not in fallback_text(markdown) and "](" not in fallback_text(markdown)
    assert "if a &lt; b:" in fallback_text(markdown)


def test_slack_escaping_is_undone_once() -> None:
    assert unescape("a &lt; b &amp;&amp; c &gt; d") == "a < b && c > d"
    assert unescape("&amp;lt; stays an entity") == "&lt; stays an entity"
