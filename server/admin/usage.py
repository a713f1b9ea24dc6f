"""``usage``: billed calls and their estimated cost, per person and per day, read from the store.

By default the current calendar month (UTC); ``--month 2026-11`` another one, ``--days 7`` the last seven UTC
days (today included). ``--json`` prints one JSON object for scripts. Costs are estimates from the price table
(``GEMINI_INTERACTIONS_PRICES_FILE`` or the shipped one), not Google's bill.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from server.core import Costs, Runner, Settings, Store, UsageTotal, format_usd

MONTH = re.compile(r"(\d{4})-(\d{2})")
COLUMNS = ("calls", "research", "tokens in", "tokens out", "est. cost", "unpriced")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "usage",
        help="billed calls and their estimated cost, per person and per day",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--month", help="a calendar month, YYYY-MM (default: this month, UTC)")
    when.add_argument("--days", type=int, help="the last N UTC days, today included")
    parser.add_argument("--source", choices=("mcp", "slack"), help="only calls from this front door")
    parser.add_argument("--team", help="only calls from this Slack workspace (team id, T…)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.set_defaults(handler=run)


def period(args: argparse.Namespace, now: datetime) -> tuple[datetime, datetime]:
    """``[since, until)`` in UTC for ``--month`` / ``--days`` / this month."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if args.days is not None:
        if args.days < 1:
            raise ValueError("--days must be at least 1.")
        return today - timedelta(days=args.days - 1), today + timedelta(days=1)
    if args.month:
        match = MONTH.fullmatch(args.month.strip())
        if match is None or not 1 <= int(match[2]) <= 12:
            raise ValueError(f"--month must look like 2026-11, got {args.month!r}.")
        start = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
    else:
        start = today.replace(day=1)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def run(args: argparse.Namespace, runner: Runner) -> int:
    settings = runner.settings()
    try:
        since, until = period(args, datetime.now(UTC))
    except ValueError as exc:
        runner.die(str(exc))
    runner.run(report, settings, args, since, until)
    return 0


async def report(settings: Settings, args: argparse.Namespace, since: datetime, until: datetime) -> None:
    store = await Store.open(settings.resolved_database_url())
    try:

        async def opened() -> Store:
            return store

        costs = Costs(settings, opened)
        filters: dict[str, Any] = {
            "since": since,
            "until": until,
            "source": args.source,
            "team_id": args.team,
        }
        people = await costs.totals("owner", **filters)
        days = await costs.totals("day", **filters)
        spent = await costs.limits.month_spend()
    finally:
        await store.close()
    if args.json:
        print(json.dumps(as_json(settings, costs, since, until, people, days, spent), indent=2))
    else:
        print(as_text(settings, costs, since, until, people, days, spent))


def _row(total: UsageTotal) -> dict[str, Any]:
    return {
        "calls": total.calls,
        "research_runs": total.research_runs,
        "input_tokens": total.input_tokens,
        "output_tokens": total.output_tokens,
        "estimated_cost_usd": str(total.cost_usd),
        "unpriced_calls": total.unpriced_calls,
    }


def as_json(
    settings: Settings,
    costs: Costs,
    since: datetime,
    until: datetime,
    people: list[UsageTotal],
    days: list[UsageTotal],
    spent: int,
) -> dict[str, Any]:
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "price_table": {"origin": costs.prices.origin, "version": costs.prices.version},
        "per_person": [{"owner": t.key, **_row(t)} for t in people],
        "per_day": [{"day": t.key, **_row(t)} for t in days],
        "this_month_estimated_usd": str(Decimal(spent) / 1_000_000),
        "monthly_budget_usd": None
        if settings.monthly_budget_usd is None
        else str(settings.monthly_budget_usd),
    }


def _table(title: str, heading: str, totals: list[UsageTotal]) -> list[str]:
    if not totals:
        return [f"{title}: none"]
    width = max(len(heading), *(len(t.key or "(local)") for t in totals))
    lines = [title, f"{heading:<{width}}  " + "  ".join(f"{c:>11}" for c in COLUMNS)]
    for t in [*totals, _sum(totals)]:
        cells = (
            t.calls,
            t.research_runs,
            f"{t.input_tokens:,}",
            f"{t.output_tokens:,}",
            format_usd(t.cost_usd),
            t.unpriced_calls,
        )
        lines.append(f"{t.key or '(local)':<{width}}  " + "  ".join(f"{c!s:>11}" for c in cells))
    return lines


def _sum(totals: list[UsageTotal]) -> UsageTotal:
    return UsageTotal(
        key="(all)",
        calls=sum(t.calls for t in totals),
        research_runs=sum(t.research_runs for t in totals),
        input_tokens=sum(t.input_tokens for t in totals),
        output_tokens=sum(t.output_tokens for t in totals),
        cost_usd=sum((t.cost_usd for t in totals), Decimal(0)),
        unpriced_calls=sum(t.unpriced_calls for t in totals),
    )


def as_text(
    settings: Settings,
    costs: Costs,
    since: datetime,
    until: datetime,
    people: list[UsageTotal],
    days: list[UsageTotal],
    spent: int,
) -> str:
    last = (until - timedelta(days=1)).date().isoformat()
    lines = [
        f"Billed calls {since.date().isoformat()} to {last} (UTC). Costs are estimates from "
        f"{costs.prices.origin} (version {costs.prices.version}), not Google's bill.",
        "",
        *_table("Per person", "owner", people),
        "",
        *_table("Per day", "day (UTC)", days),
        "",
    ]
    month = format_usd(Decimal(spent) / 1_000_000)
    if settings.monthly_budget_usd is not None:
        lines.append(
            f"This month so far: {month} of the {format_usd(settings.monthly_budget_usd)} monthly budget "
            "(GEMINI_INTERACTIONS_MONTHLY_BUDGET_USD)."
        )
    else:
        lines.append(f"This month so far: {month} (no monthly budget set).")
    return "\n".join(lines)
