"""Engine creation and the few places where SQLite and PostgreSQL genuinely differ.

Everything else in the store is written once with SQLAlchemy Core constructs. The differences live here:

- SQLite: the data directory is created, WAL mode and a busy timeout are set on every connection, and we emit our
  own ``BEGIN`` (the driver's implicit transactions would otherwise leave DDL and SELECTs outside them).
- ``insert_for``: both dialects spell ``INSERT … ON CONFLICT`` the same way, but from different modules.
- ``skip_locked``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, nothing on SQLite (one writer at a time anyway).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Select, Table, event, pool
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..errors import ConfigurationError
from ..private_files import create_private, private_dir

Dialect = Literal["sqlite", "postgresql"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
WAL_SWITCH_ATTEMPTS = 20
PG_CONNECT_TIMEOUT_SECONDS = 10.0
PG_STATEMENT_TIMEOUT_SECONDS = 30.0
# Execution option read by our SQLite "begin" hook: "IMMEDIATE" takes the write lock at BEGIN.
SQLITE_BEGIN = "sqlite_begin"


def utcnow() -> datetime:
    return datetime.now(UTC)


def dialect_of(url: str | URL) -> Dialect:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return "sqlite"
    if backend == "postgresql":
        return "postgresql"
    raise ConfigurationError(
        f"Unsupported database URL backend {backend!r}. Use sqlite+aiosqlite:///path/to/file.sqlite3 "
        "or postgresql+asyncpg://user@host/dbname in GEMINI_INTERACTIONS_DATABASE_URL."
    )


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    dialect = dialect_of(parsed)
    if dialect == "postgresql":
        if parsed.drivername != "postgresql+asyncpg":
            parsed = parsed.set(drivername="postgresql+asyncpg")
        return create_async_engine(
            parsed,
            echo=echo,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_timeout=PG_STATEMENT_TIMEOUT_SECONDS,
            # Every statement and connect has a deadline: a database that stops answering (a network partition)
            # gives errors the callers handle, instead of tasks that wait forever.
            connect_args={
                "timeout": PG_CONNECT_TIMEOUT_SECONDS,
                "command_timeout": PG_STATEMENT_TIMEOUT_SECONDS,
            },
        )
    if parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    database = parsed.database
    memory = not database or database == ":memory:"
    if database and not memory:
        path = Path(database).expanduser()
        private_dir(path.parent)
        create_private(path)  # before SQLite creates it 0644; its -wal and -shm files take this mode
    kwargs: dict[str, Any] = {"poolclass": pool.StaticPool} if memory else {}
    engine = create_async_engine(parsed, echo=echo, **kwargs)
    _configure_sqlite(engine, wal=not memory)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, wal: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver; _on_begin emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                _use_wal(cursor)
                cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent: only the first connection to a new file changes anything).

    The switch needs the file to itself and SQLite answers "database is locked" at once, without waiting for
    the busy timeout, when another connection is opening the new file too: retry a few times, briefly.
    """
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    for attempt in range(WAL_SWITCH_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_SWITCH_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))  # at start-up only; 2 s in all at the very most


def insert_for(dialect: Dialect, table: Table) -> Any:
    """An INSERT that supports ``.on_conflict_do_nothing()`` / ``.on_conflict_do_update()`` on this engine."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def skip_locked(query: Select[Any], dialect: Dialect) -> Select[Any]:
    """Lock the selected rows, skipping rows another transaction holds (PostgreSQL); a no-op on SQLite."""
    if dialect == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query
