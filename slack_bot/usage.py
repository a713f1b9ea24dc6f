"""``/gemini usage`` and the App Home's monthly line: what Gemini was used for in this workspace this month,
per person and per day, with its estimated cost (the core's record of billed calls)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.core import UsageTotal, slack_user_of

from .render import usage_report

if TYPE_CHECKING:
    from server.core import Core


def month_label(core: Core) -> str:
    since, _until = core.costs.month()
    return f"{since:%B %Y}"


async def person_total(core: Core, *, team_id: str, owner: str | None) -> UsageTotal | None:
    """One person's billed calls in this workspace this month (None: none yet)."""
    since, until = core.costs.month()
    if owner is None:
        return None
    totals = await core.costs.totals("owner", since=since, until=until, owner=owner, team_id=team_id)
    return totals[0] if totals else None


def mention(owner: str | None) -> str:
    user = slack_user_of(owner)
    return f"<@{user}>" if user else "someone"


async def usage_text(core: Core, *, team_id: str, owner: str | None) -> str:
    """``/gemini usage`` for ``owner``: the workspace's month per person and per day, and their own line."""
    since, until = core.costs.month()
    people = await core.costs.totals("owner", since=since, until=until, team_id=team_id, source="slack")
    days = await core.costs.totals("day", since=since, until=until, team_id=team_id, source="slack")
    you = next((total for total in people if total.key == owner), None)
    return usage_report(month_label(core), people, days, you=you, person=mention)
