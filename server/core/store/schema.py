"""The current shape of every table, for queries. ``migrations.py`` is what creates and changes them.

Timestamps are timezone-aware UTC in Python. PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text in
a fixed-width format, so comparing two timestamps in SQL is a plain string comparison and stays correct.
Strings carry no length limit: SQLite would ignore one and PostgreSQL enforce it, and both must accept the same.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both engines. Naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware UTC timestamps only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("name", String, primary_key=True),
    Column("applied_at", UTCDateTime, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
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
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("last_event_id", String),
    Column("progress", Text),
    Column("report_path", Text),
    Column("image_paths", JSON, nullable=False),
    Column("error", Text),
    Column("lease_owner", String),
    Column("lease_expires_at", UTCDateTime),
    # Plan-first research (m007): the plan proposed, the approval and its changes, the run it started.
    Column("plan_first", Boolean, nullable=False, server_default=false()),
    Column("plan", Text),
    Column("approved_at", UTCDateTime),
    Column("changes", Text),
    Column("run_id", String, unique=True),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("job_id", String, ForeignKey("jobs.interaction_id", ondelete="CASCADE"), nullable=False),
    Column("destination", String, nullable=False),
    Column("state", String, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("claimed_by", String),
    Column("claim_expires_at", UTCDateTime),
    Column("progress", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("job_id", "destination"),
)

slack_threads = Table(
    "slack_threads",
    metadata,
    Column("team_id", String, nullable=False),
    Column("channel_id", String, nullable=False),
    Column("thread_ts", String, nullable=False),
    Column("interaction_id", String, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("team_id", "channel_id", "thread_ts"),
)

seen_events = Table(
    "seen_events",
    metadata,
    Column("key", String, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# The report itself, so that any replica can serve it; apart from jobs so that listing jobs stays light.
reports = Table(
    "reports",
    metadata,
    Column("job_id", String, ForeignKey("jobs.interaction_id", ondelete="CASCADE"), primary_key=True),
    Column("markdown", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Images of a report (charts), so that any replica can post them; the data dir holds a copy.
report_images = Table(
    "report_images",
    metadata,
    Column("job_id", String, ForeignKey("jobs.interaction_id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),  # 1, 2, … in the order of the report
    Column("mime_type", String, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("job_id", "number"),
)

# A Slack "research started" message whose run is being started: if the process dies before the run is
# recorded, another (or the next) process finds the row and tells the user in that message.
slack_pending_starts = Table(
    "slack_pending_starts",
    metadata,
    Column("team_id", String, nullable=False),
    Column("channel_id", String, nullable=False),
    Column("message_ts", String, nullable=False),
    Column("user_id", String, nullable=False),
    Column("topic", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("team_id", "channel_id", "message_ts"),
)

# One row per billed call (an answer, an image, a research run): its usage and estimated cost. ``day`` is the UTC
# date (YYYY-MM-DD), so that both engines group by day the same way. ``cost_micro_usd`` NULL: price unknown.
usage_records = Table(
    "usage_records",
    metadata,
    Column("interaction_id", String, nullable=False),
    Column("kind", String, nullable=False),  # answer, image, research
    Column("created_at", UTCDateTime, nullable=False),
    Column("day", String, nullable=False),
    Column("owner", String),
    Column("source", String),
    Column("team_id", String),
    Column("model", String),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("thought_tokens", BigInteger, nullable=False),
    Column("total_tokens", BigInteger, nullable=False),
    Column("usage", JSON, nullable=False),  # every field Gemini reported (Usage.as_dict)
    Column("cost_micro_usd", BigInteger),
    Column("cost_basis", Text, nullable=False),
    PrimaryKeyConstraint("interaction_id", "kind"),
)

# Counters the limits are checked against, changed only by conditional UPDATEs (atomic across replicas):
# ("research_starts", owner, "2026-12-06") and ("spend_micro_usd", "", "2026-12").
usage_counters = Table(
    "usage_counters",
    metadata,
    Column("name", String, nullable=False),
    Column("key", String, nullable=False),
    Column("period", String, nullable=False),
    Column("count", BigInteger, nullable=False),
    PrimaryKeyConstraint("name", "key", "period"),
)

# Thumbs up / down under an answer in Slack, one row per person and answer (a second click replaces the first).
feedback = Table(
    "feedback",
    metadata,
    Column("interaction_id", String, nullable=False),
    Column("team_id", String, nullable=False),
    Column("user_id", String, nullable=False),
    Column("rating", String, nullable=False),
    Column("channel_id", String),
    Column("message_ts", String),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("interaction_id", "team_id", "user_id"),
)

# Gemini webhook deliveries (Standard Webhooks ``webhook-id``), kept long enough to drop Gemini's retries of one
# we already took; a delivery naming a run is also the mark that its watcher should fetch it now.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("webhook_id", String, primary_key=True),
    Column("event_type", String, nullable=False),
    Column("interaction_id", String),  # None for events that name no interaction
    Column("received_at", UTCDateTime, nullable=False),
)

# Every interaction id we created (answers, images, research runs, each continuation hop) and whose it is: an
# MCP caller may continue only its own (``server/core/owners.py``). owner NULL: the local user.
interactions = Table(
    "interactions",
    metadata,
    Column("interaction_id", String, primary_key=True),
    Column("owner", String),
    Column("kind", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# A research run being started: written before Gemini is asked, replaced by the job (keyed by Gemini's id) once
# Gemini answered. One left behind by a crash becomes a ``start_unknown`` job under the start's key.
research_starts = Table(
    "research_starts",
    metadata,
    Column("key", String, primary_key=True),
    Column("prompt", Text, nullable=False),
    Column("agent", String, nullable=False),
    Column("source", String, nullable=False),
    Column("owner", String),
    Column("team_id", String),
    Column("channel_id", String),
    Column("thread_ts", String),
    Column("message_ts", String),
    Column("replica_id", String, nullable=False),  # the process that is starting it (for the logs)
    Column("created_at", UTCDateTime, nullable=False),
)
