"""Every interaction id we created, and whose it is (``server/core/owners.py`` says who may use which)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.sql import Executable

from ..domain import InteractionRecord
from .base import StoreBase
from .engine import Dialect, insert_for, utcnow
from .schema import interactions


def new_interactions(
    dialect: Dialect, ids: Sequence[str], owner: str | None, kind: str, now: datetime
) -> Executable:
    """The insert of ``ids`` under ``owner``; an id already recorded keeps its first owner."""
    rows: list[dict[str, Any]] = [
        {"interaction_id": i, "owner": owner, "kind": kind, "created_at": now} for i in ids
    ]
    statement: Executable = (
        insert_for(dialect, interactions)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["interaction_id"])
    )
    return statement


class InteractionsMixin(StoreBase):
    async def record_interactions(self, ids: Sequence[str], *, owner: str | None, kind: str) -> None:
        """Record ``ids`` as ``owner``'s (None: the local user). Recording an id twice keeps its first owner."""
        if not ids:
            return
        async with self._begin() as conn:
            await conn.execute(new_interactions(self._dialect, ids, owner, kind, utcnow()))

    async def interaction_owner(self, interaction_id: str) -> InteractionRecord | None:
        """The record of ``interaction_id``; None when we never created it (or before records were kept)."""
        async with self._connect() as conn:
            row = (
                await conn.execute(
                    select(interactions).where(interactions.c.interaction_id == interaction_id)
                )
            ).first()
        if row is None:
            return None
        m = row._mapping
        return InteractionRecord(
            interaction_id=m["interaction_id"], owner=m["owner"], kind=m["kind"], created_at=m["created_at"]
        )
