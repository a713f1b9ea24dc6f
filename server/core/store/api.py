"""``Store``: one object over the database, whichever engine the URL names."""

from __future__ import annotations

import logging

import anyio
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from .deliveries import DeliveriesMixin
from .engine import Dialect, create_engine, dialect_of
from .feedback import FeedbackMixin
from .interactions import InteractionsMixin
from .jobs import JobsMixin
from .migrations import MIGRATIONS, apply_migrations
from .notify import Hub, NotifyMixin, PgListener
from .plans import PlansMixin
from .slack import SlackMixin
from .starts import StartsMixin
from .usage import UsageMixin
from .webhooks import WebhooksMixin

log = logging.getLogger(__name__)


class Store(
    JobsMixin,
    StartsMixin,
    PlansMixin,
    InteractionsMixin,
    DeliveriesMixin,
    SlackMixin,
    FeedbackMixin,
    WebhooksMixin,
    NotifyMixin,
    UsageMixin,
):
    """Jobs, research starts, planned jobs' approvals, interaction owners, deliveries, Slack thread memory, event dedupe, feedback on
    answers, webhook deliveries, leases, notifications, usage and limit counters.

    ``sqlite+aiosqlite:///path`` (one process; the directory is created) or ``postgresql+asyncpg://…`` (any
    number of replicas). Open with ``await Store.open(url)``; ``await store.close()`` when done.
    """

    def __init__(self, engine: AsyncEngine, dialect: Dialect, pg_dsn: str | None = None) -> None:
        self._engine = engine
        self._dialect = dialect
        self._hub = Hub()
        self._pg_listener = PgListener(pg_dsn, self._hub) if pg_dsn else None
        self._closed = False
        self.schema = MIGRATIONS[-1].__name__  # opened only with every migration applied

    @classmethod
    async def open(cls, url: str, *, echo: bool = False) -> Store:
        """Connect and apply pending migrations (safe when several replicas open at once)."""
        dialect = dialect_of(url)
        engine = create_engine(url, echo=echo)
        try:
            applied = await apply_migrations(engine, dialect)
        except BaseException:
            with anyio.CancelScope(shield=True):  # a cancelled open must still close its connections
                await engine.dispose()
            raise
        if applied:
            log.info("store migrations applied: %s", ", ".join(applied))
        dsn = None
        if dialect == "postgresql":
            dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        return cls(engine, dialect, dsn)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._hub.close()
        if self._pg_listener is not None:
            await self._pg_listener.close()
        await self._engine.dispose()

    def __repr__(self) -> str:
        return f"<Store {self._engine.url.render_as_string(hide_password=True)}>"
