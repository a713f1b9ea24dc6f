"""Notifications across processes: PostgreSQL LISTEN/NOTIFY, or an in-process fan-out on SQLite.

Every ``listen`` gets its own bounded queue and receives each payload published after it subscribed. ``notify``
never waits for a listener: when a listener's queue is full its oldest payload is dropped (and logged), so treat
payloads as hints and read the store for the truth.

On PostgreSQL one dedicated asyncpg connection per ``Store`` LISTENs on every channel in use and feeds the local
fan-out. A supervisor task reconnects it when it drops (and checks it with a ping now and then); payloads sent
while it was down are missed, which is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, select

from .base import StoreBase

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
MAX_PAYLOAD_BYTES = 7999  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
_CHANNEL = re.compile(r"[A-Za-z0-9_.:-]{1,63}")
_CLOSED = object()


def check_channel(channel: str) -> None:
    if not _CHANNEL.fullmatch(channel):
        raise ValueError(f"notification channel {channel!r}: use 1-63 characters among letters, digits, _.:-")


def check_payload(payload: str) -> None:
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"notification payload is over {MAX_PAYLOAD_BYTES} bytes; send an id, not the data")


class Subscription:
    """An async iterator of the payloads published on one channel; it ends when the store closes."""

    def __init__(self, channel: str, maxsize: int = QUEUE_SIZE) -> None:
        self.channel = channel
        self.dropped = 0
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self._ended = False

    def _put(self, item: Any) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 100 == 0:
                    log.warning(
                        "listener on %r is not keeping up: %d notification(s) dropped",
                        self.channel,
                        self.dropped,
                    )

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> str:
        if self._ended:
            raise StopAsyncIteration
        item = await self._queue.get()
        if not isinstance(item, str):  # _CLOSED
            self._ended = True
            raise StopAsyncIteration
        return item


class Hub:
    """In-process fan-out: channel → subscriptions."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(self, channel: str, maxsize: int = QUEUE_SIZE) -> Subscription:
        sub = Subscription(channel, maxsize)
        self._subs.setdefault(channel, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.channel]

    def publish(self, channel: str, payload: str) -> None:
        for sub in list(self._subs.get(channel, ())):
            sub._put(payload)

    def close(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub._put(_CLOSED)
        self._subs.clear()


class PgListener:
    """One supervised asyncpg connection that LISTENs on every channel asked for and feeds a ``Hub``."""

    def __init__(
        self, dsn: str, hub: Hub, *, connect_timeout: float = 10.0, health_interval: float = 15.0
    ) -> None:
        self._dsn = dsn
        self._hub = hub
        self._connect_timeout = connect_timeout
        self._health_interval = health_interval
        self._channels: set[str] = set()
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._conn: Any = None  # asyncpg.Connection while connected
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_error: BaseException | None = None
        self.connections = 0  # how many times it connected (tests watch reconnects)

    @property
    def backend_pid(self) -> int | None:
        return self._conn.get_server_pid() if self._conn is not None else None

    async def listen(self, channel: str) -> None:
        """Return once this channel is LISTENed to (connecting first if needed)."""
        async with self._lock:
            if channel not in self._channels:
                self._channels.add(channel)
                if self._conn is not None:
                    try:
                        await self._conn.add_listener(channel, self._on_notify)
                    except Exception as exc:  # the supervisor reconnects and LISTENs on every channel again
                        log.warning("LISTEN %s failed (%s); reconnecting the listener", channel, exc)
                        self._ready.clear()
                        self._lost.set()
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="store-pg-listener")
        try:
            await asyncio.wait_for(self._ready.wait(), self._connect_timeout * 3)
        except TimeoutError:
            raise TimeoutError(
                f"could not LISTEN on PostgreSQL: {self._last_error or 'no connection'}; "
                "check GEMINI_INTERACTIONS_DATABASE_URL and that the server is up"
            ) from None

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self._hub.publish(channel, payload)

    async def _supervise(self) -> None:
        import asyncpg  # type: ignore[import-untyped]  # lazy: only PostgreSQL stores need it

        delay = 0.1
        while True:
            conn: Any = None
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                async with self._lock:
                    for channel in sorted(self._channels):
                        await conn.add_listener(channel, self._on_notify)
                    self._conn, self._lost = conn, lost
                    self.connections += 1
                    self._ready.set()
                if self.connections > 1:
                    log.warning("PostgreSQL listener reconnected; notifications sent meanwhile were missed")
                delay = 0.1
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._health_interval)
                        break
                    await asyncio.wait_for(conn.execute("SELECT 1"), self._connect_timeout)
                self._last_error = ConnectionError("connection closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._last_error = exc
            finally:
                self._ready.clear()
                self._conn = None
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            log.warning("PostgreSQL listener down (%s); reconnecting in %.1fs", self._last_error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class NotifyMixin(StoreBase):
    _hub: Hub
    _pg_listener: PgListener | None

    async def notify(self, channel: str, payload: str) -> None:
        """Publish ``payload`` to every current listener of ``channel`` (in every process on PostgreSQL)."""
        check_channel(channel)
        check_payload(payload)
        if self._pg_listener is None:
            self._hub.publish(channel, payload)
            return
        async with self._begin() as conn:
            await conn.execute(select(func.pg_notify(channel, payload)))

    @contextlib.asynccontextmanager
    async def listen(self, channel: str, *, maxsize: int = QUEUE_SIZE) -> AsyncIterator[Subscription]:
        """``async with store.listen("ch") as payloads: async for p in payloads: ...``

        Keeps the latest ``maxsize`` payloads this listener has not read yet; older ones are dropped.
        """
        check_channel(channel)
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        sub = self._hub.subscribe(channel, maxsize)
        try:
            if self._pg_listener is not None:
                await self._pg_listener.listen(channel)
            yield sub
        finally:
            self._hub.unsubscribe(sub)
