"""Text we did not write (Gemini's answers and progress, reports, Google's error messages, what a person typed
and we echo) made harmless before it is posted to Slack.

Slack reads ``<…>`` as a control sequence in the text of messages, markdown blocks, mrkdwn text objects and file
comments alike: ``<!channel>``, ``<!here>`` and ``<!everyone>`` notify a whole channel, ``<@U…>`` a person,
``<!subteam^S…>`` a user group, and ``<https://a|b>`` is a link whose label hides where it goes
(docs.slack.dev/messaging/formatting-message-text, "Escaping text"). A model writes them when asked to, or when a
shared PDF tells it to; a person can type one literally (Slack sends it to us escaped, and we unescape it).

:func:`neutralise` writes every ``<`` as ``&lt;`` and every ``>`` as ``&gt;`` (Slack shows both as the characters),
except a ``>`` that opens a line: that is markdown's and mrkdwn's block quote, and no sequence starts with ``>``.
``&`` is left alone: Slack does not read a decoded entity as a control sequence, and ``&amp;`` inside a markdown
link would break its query string (both measured against a real workspace, PostHog/posthog#95054).

Neutralising is idempotent, and works character by character: the neutralised form of a prefix of a text is a
prefix of the neutralised whole. Streamed text can be neutralised as it grows, with nothing held back: an
unfinished ``<…`` is already harmless.
"""

from __future__ import annotations

import re

# What may stand before a block quote's ">" on its line: indentation and the ">" of outer quotes.
_QUOTE_MARKERS = re.compile(r"[ \t>]*")


def neutralise(text: str) -> str:
    """``text`` with no Slack control sequence left in it; it reads the same once Slack renders it."""
    if "<" not in text and ">" not in text:
        return text
    lines = text.split("\n")
    for n, line in enumerate(lines):
        markers = _QUOTE_MARKERS.match(line)
        head = markers.group() if markers else ""
        rest = line[len(head) :]
        lines[n] = head + rest.replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(lines)
