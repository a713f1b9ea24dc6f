"""Cost people can see and cap: the price table (``prices.py``), the record of every billed call
(``ledger.py``: ``Costs``, held by the core as ``core.costs``) and the operator's limits (``quotas.py``)."""

from .ledger import Costs, combined
from .prices import PriceTable, format_usd
from .quotas import Quotas, Reservation, month_start, next_day, next_month

__all__ = [
    "Costs",
    "PriceTable",
    "Quotas",
    "Reservation",
    "combined",
    "format_usd",
    "month_start",
    "next_day",
    "next_month",
]
