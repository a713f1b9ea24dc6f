"""Migrations: applied once, idempotent on reopen, safe when replicas open together, matching schema.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from server.core.store import Store
from server.core.store.engine import create_engine, dialect_of
from server.core.store.migrations import MIGRATIONS, apply_migrations
from server.core.store.schema import metadata, schema_migrations

pytestmark = pytest.mark.anyio

ALL = [m.__name__ for m in MIGRATIONS]


async def _recorded(store: Store) -> list[str]:
    async with store.engine.connect() as conn:
        return list((await conn.scalars(select(schema_migrations.c.name).order_by("name"))).all())


async def test_migrations_run_once_and_reopen_is_idempotent(store_url: str) -> None:
    first = await Store.open(store_url)
    assert await _recorded(first) == sorted(ALL)
    assert await apply_migrations(first.engine, first.dialect) == []
    await first.close()

    again = await Store.open(store_url)
    try:
        assert await _recorded(again) == sorted(ALL)
        assert await apply_migrations(again.engine, again.dialect) == []
    finally:
        await again.close()


async def test_replicas_opening_together_apply_each_migration_once(store_url: str) -> None:
    dialect = dialect_of(store_url)
    engines = [create_engine(store_url) for _ in range(4)]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(apply_migrations(engine, dialect) for engine in engines)), 30
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(name for applied in results for name in applied) == sorted(ALL)


async def test_migrated_schema_matches_schema_module(store: Store) -> None:
    def columns(sync_conn: object) -> dict[str, dict[str, bool]]:
        inspector = inspect(sync_conn)
        return {
            table: {col["name"]: bool(col["nullable"]) for col in inspector.get_columns(table)}
            for table in inspector.get_table_names()
        }

    async with store.engine.connect() as conn:
        actual = await conn.run_sync(columns)
    expected = {
        table.name: {col.name: bool(col.nullable) for col in table.columns}
        for table in metadata.sorted_tables
    }
    assert actual == expected


async def test_sqlite_creates_the_data_dir_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "store.sqlite3"
    store = await Store.open(f"sqlite+aiosqlite:///{path}")
    try:
        assert store.dialect == "sqlite"
        assert path.exists()
        async with store.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        await store.close()


async def test_unsupported_url_says_what_to_use() -> None:
    from server.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="postgresql\\+asyncpg"):
        await Store.open("mysql://localhost/x")


async def test_dialect_is_reported(store: Store, store_url: str) -> None:
    assert store.dialect == ("sqlite" if store_url.startswith("sqlite") else "postgresql")


async def test_several_stores_open_concurrently(open_store: Callable[[], Awaitable[Store]]) -> None:
    stores = await asyncio.wait_for(asyncio.gather(*(open_store() for _ in range(3))), 30)
    for store in stores:
        assert await _recorded(store) == sorted(ALL)
