"""The PostgreSQL fixtures, loaded once for the whole session as a pytest plugin (``tests/conftest.py``).

- ``pg_server`` (session): the running ``PostgresServer``, started on first use; stopped (``pg_ctl stop -m
  immediate``) and its temp dir removed at the end of the session.
- ``pg_url`` (function): a fresh, empty database on it, as ``postgresql+asyncpg://postgres@127.0.0.1:PORT/NAME``,
  dropped after the test.
- ``own_pg_server`` (function): a server of the test's own, which it may stop and start again.

When the binaries are missing the fixtures skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator

import pytest

from .postgres import INSTALL_COMMAND, PostgresServer, find_bin_dir


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _running_server() -> Iterator[PostgresServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = f"PostgreSQL server binaries (initdb, pg_ctl) not found; install them: {INSTALL_COMMAND}"
        if _in_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    server = PostgresServer(bin_dir)
    atexit.register(server.stop)  # also when the session is interrupted before the fixture's teardown
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"could not start the test PostgreSQL server: {exc}", pytrace=False)
    except BaseException:
        server.stop()
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    yield from _running_server()


@pytest.fixture
def own_pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test alone, to stop and start again (``pause``/``resume``)."""
    yield from _running_server()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database for this test; dropped afterwards."""
    url = pg_server.take_database()
    try:
        yield url
    finally:
        pg_server.give_back(url)
