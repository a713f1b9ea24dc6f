"""``core.costs``: what every billed call cost (estimated), who made it, and the limits that refuse new ones.

Each billed call (an answer, an image, a research run) becomes one ``UsageRecord``: kept in the store once, and
logged as one line (logger ``server.core.usage``; with JSON logs the line carries every figure under ``billed``,
for an operator to sum elsewhere). Costs come from the price table (``prices.py``): an estimate, never the bill.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from ..domain import Answer, Cost, Origin, Usage, UsageKind, UsageRecord, UsageTotal
from .prices import PriceTable, format_usd
from .quotas import Clock, Quotas, StoreGetter, month_start, next_month, utcnow

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger("server.core.usage")

NO_USAGE = Cost(None, "unknown: Gemini reported no usage for this call")


def combined(records: list[UsageRecord]) -> tuple[Usage, Cost]:
    """Several billed calls of one job (a plan, then its run) as one: usage summed; the cost summed when every
    part's price is known, else unknown (with the reason of the first unknown part)."""
    usage = records[0].usage
    for record in records[1:]:
        usage = usage + record.usage
    unknown = next((r.cost for r in records if r.cost.usd is None), None)
    if unknown is not None:
        return usage, unknown
    if len(records) == 1:
        return usage, records[0].cost
    total = sum((r.cost.usd for r in records if r.cost.usd is not None), Decimal(0))
    return usage, Cost(total, "; ".join(dict.fromkeys(r.cost.basis for r in records)))


class Costs:
    def __init__(self, settings: Settings, store: StoreGetter, *, clock: Clock = utcnow) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._prices: PriceTable | None = None
        self.limits = Quotas(settings, store, clock)

    @property
    def prices(self) -> PriceTable:
        """The price table, read on first use (the operator's file is checked at start-up: ``Core``)."""
        if self._prices is None:
            self._prices = PriceTable.load(self._settings.prices_file)
        return self._prices

    def now(self) -> datetime:
        return self._clock()

    def month(self) -> tuple[datetime, datetime]:
        """The current calendar month (UTC): its first moment and the next month's."""
        now = self._clock()
        return month_start(now), next_month(now)

    def estimate(self, model: str | None, usage: Usage | None) -> Cost:
        if usage is None:
            return NO_USAGE
        return self.prices.estimate(model, usage, at=self._clock())

    def record_of(
        self, kind: UsageKind, interaction_id: str, model: str | None, usage: Usage, origin: Origin | None
    ) -> UsageRecord:
        return UsageRecord(
            interaction_id=interaction_id,
            kind=kind,
            usage=usage,
            cost=self.estimate(model, usage),
            at=self._clock(),
            model=model,
            owner=origin.owner if origin else None,
            source=origin.source if origin else None,
            team_id=origin.team_id if origin else None,
        )

    async def bill(self, kind: UsageKind, answer: Answer, origin: Origin | None) -> Cost:
        """Record the billed call ``answer`` (when Gemini reported its usage); its estimated cost."""
        if answer.usage is None or not answer.interaction_id:
            return NO_USAGE
        record = self.record_of(
            kind, answer.interaction_id, answer.model or answer.agent, answer.usage, origin
        )
        try:
            store = await self._store()
            await store.add_usage(record)
        except Exception:
            log.exception("recording the usage of %s failed; its log line below still counts", record.kind)
        self.logged(record)
        return record.cost

    def logged(self, record: UsageRecord) -> None:
        """The one log line of a billed call."""
        usage = record.usage
        log.info(
            "billed %s %s: %s, %d in / %d out / %d thought tokens, estimated %s (owner %s)",
            record.kind,
            record.interaction_id,
            record.model or "unknown model",
            usage.input_tokens,
            usage.output_tokens,
            usage.thought_tokens,
            format_usd(record.cost.usd),
            record.owner or "local",
            extra={
                "interaction_id": record.interaction_id,
                "json_fields": {
                    "billed": {
                        "kind": record.kind,
                        "interaction_id": record.interaction_id,
                        "model": record.model,
                        "owner": record.owner,
                        "source": record.source,
                        "team_id": record.team_id,
                        "at": record.at.isoformat(),
                        "usage": usage.as_dict(),
                        "estimated_cost_usd": None if record.cost.usd is None else float(record.cost.usd),
                        "cost_basis": record.cost.basis,
                    }
                },
            },
        )

    async def of(self, interaction_ids: list[str], kind: UsageKind | None = None) -> dict[str, UsageRecord]:
        store = await self._store()
        return await store.usage_of(interaction_ids, kind)

    async def totals(
        self,
        by: Literal["owner", "day"],
        *,
        since: datetime,
        until: datetime,
        owner: str | None = None,
        team_id: str | None = None,
        source: str | None = None,
    ) -> list[UsageTotal]:
        """Billed calls in ``[since, until)`` summed per owner or per UTC day (see ``Store.usage_totals``)."""
        store = await self._store()
        return await store.usage_totals(
            by, since=since, until=until, owner=owner, team_id=team_id, source=source
        )
