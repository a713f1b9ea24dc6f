"""The operator's limits: research starts per owner per UTC day, and the deployment's estimated spend per month.

Both are checked before Gemini is asked, never afterwards: a limit refuses a start, it never cancels a run
already started. Counts live in the store (``usage_counters``), changed by conditional updates, so they hold
across replicas. A start that Gemini then refuses gives its slot back.

The budget compares the estimated spend recorded so far this month with ``GEMINI_INTERACTIONS_MONTHLY_BUDGET_USD``:
calls still running (a research run is priced when it ends) and calls of unknown price are not in it yet.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import LimitReached
from .prices import format_usd, from_micro_usd, to_micro_usd

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store import Store

RESEARCH_STARTS = "research_starts"
PER_DAY_SETTING = "GEMINI_INTERACTIONS_RESEARCH_PER_DAY"
BUDGET_SETTING = "GEMINI_INTERACTIONS_MONTHLY_BUDGET_USD"

Clock = Callable[[], datetime]
StoreGetter = Callable[[], Awaitable["Store"]]


def utcnow() -> datetime:
    return datetime.now(UTC)


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def next_day(now: datetime) -> datetime:
    return day_start(now) + timedelta(days=1)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def wait_label(delta: timedelta) -> str:
    """``in 3 h 12 min``, ``in 2 d 5 h``."""
    minutes = max(1, math.ceil(delta.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return "in " + " ".join(parts)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A research start counted against its owner's day (given back if the start fails)."""

    key: str
    period: str


class Quotas:
    def __init__(self, settings: Settings, store: StoreGetter, clock: Clock = utcnow) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock

    @property
    def active(self) -> bool:
        return self._settings.research_per_day is not None or self._settings.monthly_budget_usd is not None

    async def month_spend(self) -> int:
        """The estimated spend recorded this month (UTC), in millionths of a dollar."""
        store = await self._store()
        return await store.month_spend(self._clock())

    async def check_budget(self) -> None:
        """Raise LimitReached when this month's estimated spend has reached the budget."""
        budget = self._settings.monthly_budget_usd
        if budget is None:
            return
        spent = await self.month_spend()
        if spent < to_micro_usd(budget):
            return
        now = self._clock()
        reset = next_month(now)
        raise LimitReached(
            f"This server has reached its monthly budget: an estimated {format_usd(from_micro_usd(spent))} of "
            f"{format_usd(budget)} spent in {now:%B %Y} (UTC; {BUDGET_SETTING}). New answers, images and "
            f"research runs can start again on {reset:%Y-%m-%d} at 00:00 UTC ({wait_label(reset - now)}), or "
            "sooner if the operator raises the budget. Runs already started keep going.",
            limit=BUDGET_SETTING,
            resets_at=reset,
        )

    async def research_refusal(self, owner: str | None) -> LimitReached | None:
        """Why ``owner`` may not start a research run now, or None (nothing is counted: see ``take``)."""
        try:
            await self.check_budget()
        except LimitReached as exc:
            return exc
        limit = self._settings.research_per_day
        if limit is None:
            return None
        store = await self._store()
        now = self._clock()
        started = await store.count(RESEARCH_STARTS, owner or "", now.date().isoformat())
        return self._per_day(limit, now) if started >= limit else None

    async def take_research_start(self, owner: str | None) -> Reservation | None:
        """Count a research start for ``owner`` today, or raise LimitReached (budget first, then per day)."""
        await self.check_budget()
        limit = self._settings.research_per_day
        if limit is None:
            return None
        store = await self._store()
        now = self._clock()
        reservation = Reservation(owner or "", now.date().isoformat())
        if await store.take_count(RESEARCH_STARTS, reservation.key, reservation.period, limit) is None:
            raise self._per_day(limit, now)
        return reservation

    async def give_back(self, reservation: Reservation | None) -> None:
        if reservation is not None:
            store = await self._store()
            await store.give_back_count(RESEARCH_STARTS, reservation.key, reservation.period)

    @staticmethod
    def _per_day(limit: int, now: datetime) -> LimitReached:
        if limit == 0:
            return LimitReached(
                f"Research is turned off on this server ({PER_DAY_SETTING}=0). Ask its operator to allow it.",
                limit=PER_DAY_SETTING,
            )
        reset = next_day(now)
        runs = "run" if limit == 1 else "runs"
        return LimitReached(
            f"You have already started {limit} research {runs} today, the most this server allows per person "
            f"per day ({PER_DAY_SETTING}={limit}). The count resets at {reset:%Y-%m-%d %H:%M} UTC "
            f"({wait_label(reset - now)}); runs you already started keep going.",
            limit=PER_DAY_SETTING,
            resets_at=reset,
        )
