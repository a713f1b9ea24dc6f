"""What every part of the store shares: the engine and which engine it is."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

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
