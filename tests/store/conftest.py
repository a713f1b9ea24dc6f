"""Fixtures for the store tests: every ``store`` test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from server.core.store import Store

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=ENGINES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/data/dir/store.sqlite3"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def open_store(store_url: str) -> AsyncIterator[Callable[[], Awaitable[Store]]]:
    """Open more ``Store`` instances on the same database (each its own engine: a replica)."""
    opened: list[Store] = []

    async def _open() -> Store:
        store = await Store.open(store_url)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: Callable[[], Awaitable[Store]]) -> Store:
    return await open_store()
