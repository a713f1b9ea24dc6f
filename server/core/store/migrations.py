"""Schema changes as an ordered list of migrations, each applied once (in the manner of simonw/llm).

``MIGRATIONS`` is append-only: never edit a migration that has shipped; add a new one that changes the schema,
then update ``schema.py`` to match (``tests/store`` checks that the two agree). Each migration is a function
that takes a synchronous SQLAlchemy ``Connection``; its name is recorded in ``schema_migrations`` once it ran.

All pending migrations run in one transaction at ``Store.open``. On PostgreSQL that transaction first takes an
advisory lock, so replicas starting together apply each migration exactly once (DDL is transactional there).
On SQLite the transaction starts with ``BEGIN IMMEDIATE``, which holds the database's write lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from .engine import SQLITE_BEGIN, Dialect, utcnow
from .schema import schema_migrations

Migration = Callable[[Connection], None]

# pg_advisory_xact_lock key: "gemi" "nist" in ASCII; any constant shared by all replicas will do.
MIGRATION_LOCK_KEY = 0x67656D69_6E697374


def m001_initial(conn: Connection) -> None:
    """Jobs, deliveries, Slack thread memory, seen events. Frozen: the tables as they were at 001."""
    md = MetaData()
    ts = DateTime(timezone=True)
    jobs = Table(
        "jobs",
        md,
        Column("interaction_id", String, primary_key=True),
        Column("prompt", Text, nullable=False),
        Column("agent", String, nullable=False),
        Column("source", String, nullable=False),
        Column("owner", String),
        Column("team_id", String),
        Column("channel_id", String),
        Column("thread_ts", String),
        Column("message_ts", String),
        Column("status", String, nullable=False),
        Column("created_at", ts, nullable=False),
        Column("updated_at", ts, nullable=False),
        Column("finished_at", ts),
        Column("last_event_id", String),
        Column("progress", Text),
        Column("report_path", Text),
        Column("image_paths", JSON, nullable=False),
        Column("error", Text),
        Column("lease_owner", String),
        Column("lease_expires_at", ts),
    )
    Index("ix_jobs_created_at", jobs.c.created_at)
    Index("ix_jobs_status", jobs.c.status)
    Index("ix_jobs_owner_created_at", jobs.c.owner, jobs.c.created_at)
    Index("ix_jobs_team_created_at", jobs.c.team_id, jobs.c.created_at)
    Index("ix_jobs_lease_owner", jobs.c.lease_owner)
    deliveries = Table(
        "deliveries",
        md,
        Column("job_id", String, ForeignKey("jobs.interaction_id", ondelete="CASCADE"), nullable=False),
        Column("destination", String, nullable=False),
        Column("state", String, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("last_error", Text),
        Column("claimed_by", String),
        Column("claim_expires_at", ts),
        Column("progress", JSON, nullable=False),
        Column("created_at", ts, nullable=False),
        Column("updated_at", ts, nullable=False),
        PrimaryKeyConstraint("job_id", "destination"),
    )
    Index("ix_deliveries_state", deliveries.c.state)
    Table(
        "slack_threads",
        md,
        Column("team_id", String, nullable=False),
        Column("channel_id", String, nullable=False),
        Column("thread_ts", String, nullable=False),
        Column("interaction_id", String, nullable=False),
        Column("updated_at", ts, nullable=False),
        PrimaryKeyConstraint("team_id", "channel_id", "thread_ts"),
    )
    seen = Table(
        "seen_events",
        md,
        Column("key", String, primary_key=True),
        Column("created_at", ts, nullable=False),
    )
    Index("ix_seen_events_created_at", seen.c.created_at)
    md.create_all(conn)


def m002_reports(conn: Connection) -> None:
    """Reports kept in the database, so every replica can serve them (the data dir holds a copy)."""
    md = MetaData()
    Table("jobs", md, Column("interaction_id", String, primary_key=True))
    Table(
        "reports",
        md,
        Column("job_id", String, ForeignKey("jobs.interaction_id", ondelete="CASCADE"), primary_key=True),
        Column("markdown", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    ).create(conn)


def m003_report_images(conn: Connection) -> None:
    """A report's images (charts) kept in the database, so every replica can post them."""
    md = MetaData()
    Table("jobs", md, Column("interaction_id", String, primary_key=True))
    Table(
        "report_images",
        md,
        Column("job_id", String, ForeignKey("jobs.interaction_id", ondelete="CASCADE"), nullable=False),
        Column("number", Integer, nullable=False),
        Column("mime_type", String, nullable=False),
        Column("data", LargeBinary, nullable=False),
        PrimaryKeyConstraint("job_id", "number"),
    ).create(conn)


def m004_slack_pending_starts(conn: Connection) -> None:
    """Slack research runs being started, so that one interrupted by a crash is reported to its user."""
    Table(
        "slack_pending_starts",
        MetaData(),
        Column("team_id", String, nullable=False),
        Column("channel_id", String, nullable=False),
        Column("message_ts", String, nullable=False),
        Column("user_id", String, nullable=False),
        Column("topic", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("team_id", "channel_id", "message_ts"),
    ).create(conn)


def m005_research_starts(conn: Connection) -> None:
    """Research runs being started (the intent, written before Gemini is asked), so that a start cut short by a
    crash shows to its owner as ``start_unknown`` instead of being lost."""
    ts = DateTime(timezone=True)
    starts = Table(
        "research_starts",
        MetaData(),
        Column("key", String, primary_key=True),
        Column("prompt", Text, nullable=False),
        Column("agent", String, nullable=False),
        Column("source", String, nullable=False),
        Column("owner", String),
        Column("team_id", String),
        Column("channel_id", String),
        Column("thread_ts", String),
        Column("message_ts", String),
        Column("replica_id", String, nullable=False),
        Column("created_at", ts, nullable=False),
    )
    Index("ix_research_starts_created_at", starts.c.created_at)
    starts.create(conn)


def m006_interaction_owners(conn: Connection) -> None:
    """Owners in namespaces, and every interaction id recorded with its owner.

    Research runs started with the single GEMINI_INTERACTIONS_MCP_TOKEN (owner ``token``) become
    ``token:_single``'s, which is who that token is now, so they stay readable in single-token mode; a Slack
    user ``U…`` of team ``T…`` becomes ``slack:T…:U…``; NULL (the local user) stays NULL. The runs are then
    recorded in ``interactions`` under those owners.
    """
    md = MetaData()
    ts = DateTime(timezone=True)
    jobs = Table(
        "jobs",
        md,
        Column("interaction_id", String, primary_key=True),
        Column("source", String, nullable=False),
        Column("owner", String),
        Column("team_id", String),
        Column("created_at", ts, nullable=False),
    )
    interactions = Table(
        "interactions",
        md,
        Column("interaction_id", String, primary_key=True),
        Column("owner", String),
        Column("kind", String, nullable=False),
        Column("created_at", ts, nullable=False),
    )
    interactions.create(conn)
    conn.execute(
        update(jobs)
        .where(jobs.c.source == "mcp", jobs.c.owner == "token")
        .values(owner=literal("token:_single"))
    )
    conn.execute(
        update(jobs)
        .where(
            jobs.c.source == "slack",
            jobs.c.owner.is_not(None),
            jobs.c.team_id.is_not(None),
            jobs.c.owner.not_like("slack:%"),
        )
        .values(owner=literal("slack:") + jobs.c.team_id + literal(":") + jobs.c.owner)
    )
    conn.execute(
        insert(interactions).from_select(
            ["interaction_id", "owner", "kind", "created_at"],
            select(jobs.c.interaction_id, jobs.c.owner, literal("research"), jobs.c.created_at),
        )
    )


def _add_column(conn: Connection, table: str, column: Column[Any]) -> None:
    """``ALTER TABLE … ADD COLUMN`` with the column's type as this engine spells it (same on both engines)."""
    ddl = f"ALTER TABLE {table} ADD COLUMN {column.name} {column.type.compile(dialect=conn.dialect)}"
    if column.server_default is not None:
        default = column.server_default.arg  # type: ignore[attr-defined]  # a DefaultClause here
        ddl += f" DEFAULT {default.compile(dialect=conn.dialect)}"
    if not column.nullable:
        ddl += " NOT NULL"
    conn.exec_driver_sql(ddl)


def m007_research_plans(conn: Connection) -> None:
    """Plan-first research: the proposed plan, the user's approval (and changes) and the run it started."""
    ts = DateTime(timezone=True)
    for column in (
        Column("plan_first", Boolean, nullable=False, server_default=false()),
        Column("plan", Text),
        Column("approved_at", ts),
        Column("changes", Text),
        Column("run_id", String),
    ):
        _add_column(conn, "jobs", column)
    jobs = Table("jobs", MetaData(), Column("run_id", String))
    Index("ix_jobs_run_id", jobs.c.run_id, unique=True).create(conn)


def m008_webhook_deliveries(conn: Connection) -> None:
    """Gemini webhook deliveries received: deduped on ``webhook-id`` across replicas, and each one a mark that
    the run it names has news (the replica watching it fetches the run at once)."""
    md = MetaData()
    deliveries = Table(
        "webhook_deliveries",
        md,
        Column("webhook_id", String, primary_key=True),
        Column("event_type", String, nullable=False),
        Column("interaction_id", String),
        Column("received_at", DateTime(timezone=True), nullable=False),
    )
    Index("ix_webhook_deliveries_interaction_id", deliveries.c.interaction_id, deliveries.c.received_at)
    Index("ix_webhook_deliveries_received_at", deliveries.c.received_at)
    md.create_all(conn)


def m009_usage(conn: Connection) -> None:
    """Usage and estimated cost of every billed call, and the counters limits are checked against."""
    md = MetaData()
    ts = DateTime(timezone=True)
    usage = Table(
        "usage_records",
        md,
        Column("interaction_id", String, nullable=False),
        Column("kind", String, nullable=False),
        Column("created_at", ts, nullable=False),
        Column("day", String, nullable=False),
        Column("owner", String),
        Column("source", String),
        Column("team_id", String),
        Column("model", String),
        Column("input_tokens", BigInteger, nullable=False),
        Column("output_tokens", BigInteger, nullable=False),
        Column("thought_tokens", BigInteger, nullable=False),
        Column("total_tokens", BigInteger, nullable=False),
        Column("usage", JSON, nullable=False),
        Column("cost_micro_usd", BigInteger),
        Column("cost_basis", Text, nullable=False),
        PrimaryKeyConstraint("interaction_id", "kind"),
    )
    Index("ix_usage_records_created_at", usage.c.created_at)
    Index("ix_usage_records_owner_created_at", usage.c.owner, usage.c.created_at)
    Index("ix_usage_records_team_created_at", usage.c.team_id, usage.c.created_at)
    Table(
        "usage_counters",
        md,
        Column("name", String, nullable=False),
        Column("key", String, nullable=False),
        Column("period", String, nullable=False),
        Column("count", BigInteger, nullable=False),
        PrimaryKeyConstraint("name", "key", "period"),
    )
    md.create_all(conn)


def m010_feedback(conn: Connection) -> None:
    """Thumbs up / down on answers in Slack: who rated which interaction, and how (the latest click counts)."""
    Table(
        "feedback",
        MetaData(),
        Column("interaction_id", String, nullable=False),
        Column("team_id", String, nullable=False),
        Column("user_id", String, nullable=False),
        Column("rating", String, nullable=False),
        Column("channel_id", String),
        Column("message_ts", String),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("interaction_id", "team_id", "user_id"),
    ).create(conn)


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_reports,
    m003_report_images,
    m004_slack_pending_starts,
    m005_research_starts,
    m006_interaction_owners,
    m007_research_plans,
    m008_webhook_deliveries,
    m009_usage,
    m010_feedback,
]


def _apply_pending(conn: Connection) -> list[str]:
    schema_migrations.create(conn, checkfirst=True)
    done = set(conn.scalars(select(schema_migrations.c.name)))
    applied: list[str] = []
    for migration in MIGRATIONS:
        name = migration.__name__
        if name in done:
            continue
        migration(conn)
        conn.execute(insert(schema_migrations).values(name=name, applied_at=utcnow()))
        applied.append(name)
    return applied


async def apply_migrations(engine: AsyncEngine, dialect: Dialect) -> list[str]:
    """Apply every pending migration; return the names applied by this call (empty when up to date)."""
    if dialect == "sqlite":
        engine = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
    async with engine.begin() as conn:
        if dialect == "postgresql":
            await conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        return await conn.run_sync(_apply_pending)
