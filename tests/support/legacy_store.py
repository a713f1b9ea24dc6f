"""A database as the server left it before owners had namespaces (migration 006): every migration before it
applied, and one research run of each kind of owner written as it was then."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, insert

from server.core.store.engine import create_engine, utcnow
from server.core.store.migrations import MIGRATIONS, Migration
from server.core.store.schema import jobs, reports, schema_migrations

BEFORE = 6  # the number of the migration that gave owners their namespaces
T0 = datetime(2026, 5, 1, tzinfo=UTC)

#: interaction id → (source, owner as written then, team)
LEGACY_RUNS: dict[str, tuple[str, str | None, str | None]] = {
    "v1_legacy-token-run": ("mcp", "token", None),  # the single GEMINI_INTERACTIONS_MCP_TOKEN's owner
    "v1_legacy-slack-run": ("slack", "U1", "T1"),  # a Slack user id, its team apart
    "v1_legacy-local-run": ("mcp", None, None),  # stdio: the local user
}


def _number(migration: Migration) -> int:
    return int(migration.__name__[1:4])


def _write(conn: Connection) -> None:
    schema_migrations.create(conn, checkfirst=True)
    for migration in MIGRATIONS:
        if _number(migration) >= BEFORE:
            continue
        migration(conn)
        conn.execute(insert(schema_migrations).values(name=migration.__name__, applied_at=utcnow()))
    for iid, (source, owner, team) in LEGACY_RUNS.items():
        conn.execute(
            insert(jobs).values(
                interaction_id=iid,
                prompt=f"legacy research {iid}",
                agent="deep-research-preview-04-2026",
                source=source,
                owner=owner,
                team_id=team,
                status="completed",
                created_at=T0,
                updated_at=T0,
                finished_at=T0,
                image_paths=[],
            )
        )
        conn.execute(insert(reports).values(job_id=iid, markdown=f"# Report of {iid}\n", created_at=T0))


async def legacy_database(url: str) -> None:
    """Write the pre-006 database at ``url`` (empty before)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_write)
    finally:
        await engine.dispose()
