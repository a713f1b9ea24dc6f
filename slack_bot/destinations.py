"""Where a report goes, in Slack's own format: ``slack:<team>:<channel>:<thread ts>``.

The core stores destinations as opaque strings and hands them back to whoever delivers; only this module
writes or reads that format.
"""

from __future__ import annotations

from server.core import Origin

PREFIX = "slack"


def thread_destination(team_id: str, channel_id: str, thread_ts: str) -> str:
    return f"{PREFIX}:{team_id}:{channel_id}:{thread_ts}"


def slack_destination(origin: Origin) -> str | None:
    """The thread a run started from Slack reports into; None for other origins (or an incomplete one)."""
    if origin.source != "slack" or not (origin.team_id and origin.channel_id and origin.thread_ts):
        return None
    return thread_destination(origin.team_id, origin.channel_id, origin.thread_ts)


def parse_destination(destination: str) -> tuple[str, str, str] | None:
    """``slack:T:C:ts`` → (team_id, channel_id, thread_ts); None for destinations that are not ours."""
    kind, _, rest = destination.partition(":")
    team_id, _, rest = rest.partition(":")
    channel_id, _, thread_ts = rest.partition(":")
    if kind != PREFIX or not (team_id and channel_id and thread_ts):
        return None
    return team_id, channel_id, thread_ts
