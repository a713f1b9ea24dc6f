"""What every part of the store shares: the engine, which engine it is, and how to hold a connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..domain import TERMINAL_STATUSES
from .engine import Dialect

TERMINAL: tuple[str, ...] = tuple(sorted(TERMINAL_STATUSES))


class StoreBase:
    _engine: AsyncEngine
    _dialect: Dialect

    @property
    def dialect(self) -> Dialect:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._dialect

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    # Every use of a connection is shielded from cancellation: a statement cut short by a cancelled task
    # leaves the driver's connection half-closed (aiosqlite's close task then never finishes, and the event
    # loop cannot shut down). Statements are short; the caller sees its cancellation right after.

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed on success."""
        with anyio.CancelScope(shield=True):
            async with self._engine.begin() as conn:
                yield conn

    async def _took(self, stmt: Any) -> bool:
        """Run a conditional write that returns rows; True when it matched one (this call did it)."""
        async with self._begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads."""
        with anyio.CancelScope(shield=True):
            async with self._engine.connect() as conn:
                yield conn
