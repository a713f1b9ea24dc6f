"""The core's public surface is exactly ``server.core.__all__`` (the front doors import nothing else, see the
import contract in pyproject.toml): a name added to ``__init__.py`` must be listed, and every listed name must
exist."""

from __future__ import annotations

from types import ModuleType

import server.core

LAZY = {"Delivery", "PendingStart", "Store"}  # the store's names, loaded on first use


def test_every_public_name_is_exported_and_nothing_else() -> None:
    names = {
        name
        for name, value in vars(server.core).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert sorted(names | LAZY) == sorted(server.core.__all__)


def test_every_exported_name_resolves() -> None:
    missing = [name for name in server.core.__all__ if getattr(server.core, name, None) is None]
    assert missing == []


def test_the_store_loads_on_first_use() -> None:
    assert server.core.Store.__module__ == "server.core.store.api"
