"""The persistent store: research jobs, deliveries, Slack thread memory, event dedupe, leases, notifications.

One implementation over SQLAlchemy Core for two engines: SQLite (embedded default) and PostgreSQL (replicas).

    store = await Store.open(settings.resolved_database_url())
    ...
    await store.close()
"""

from .api import Store
from .deliveries import Delivery, DeliveryState
from .engine import Dialect
from .notify import Subscription
from .slack import PendingStart

__all__ = ["Delivery", "DeliveryState", "Dialect", "PendingStart", "Store", "Subscription"]
