"""Agreeing across replicas on a cosmetic Slack update that every replica hears about (an edit, a Home refresh):
only the first to record its key in the shared store does it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.core import Core

log = logging.getLogger(__name__)


async def our_turn(core: Core, key: str) -> bool:
    """Whether this replica does the update ``key``. On a store error it does it anyway (a duplicate edit is
    better than none)."""
    try:
        return await core.store.first_seen(key)
    except Exception:
        log.warning("could not agree on %s with other replicas; doing it here", key, exc_info=True)
        return True
