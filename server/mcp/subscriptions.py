"""Resource-update notifications for both protocol eras, from one ``publish(uri)``.

- 2026-07-28: ``subscriptions/listen`` streams, fed by the SDK's ``InMemorySubscriptionBus``.
- 2025-11-25: ``resources/subscribe`` + ``notifications/resources/updated``. MCPServer has no public hook
  for these: the handlers are registered, and subscribers remembered by their per-client ``Connection``,
  through ``lowlevel.py`` (the module that holds every use of private SDK API).

Both doors run the same ``authorize(ctx, uri)`` check first, so a caller can only watch what it may read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp.types import (
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    UnsubscribeRequestParams,
)

from .lowlevel import add_request_handler, connection_of

log = logging.getLogger(__name__)

#: Raises MCPError when the caller behind ``ctx`` may not watch ``uri``.
Authorize = Callable[[ServerRequestContext[Any, Any], str], Awaitable[None]]


class ResourceUpdates:
    """Publish ``notifications/resources/updated`` to every watcher of a URI, whichever era it speaks."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()  # pass to MCPServer(subscriptions=...)
        self._legacy: dict[str, set[Any]] = {}  # uri → Connections subscribed to it
        self._tracked: set[Any] = set()  # Connections whose close already forgets their subscriptions
        self._authorize: Authorize | None = None

    def install(self, server: MCPServer[Any], authorize: Authorize | None = None) -> None:
        """Register the legacy subscribe handlers and gate modern listen streams with ``authorize``."""
        self._authorize = authorize
        add_request_handler(server, "resources/subscribe", SubscribeRequestParams, self._subscribe)
        add_request_handler(server, "resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe)
        if authorize is not None:
            listen = ListenHandler(self.bus)

            async def gated_listen(
                ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams
            ) -> SubscriptionsListenResult:
                for uri in params.notifications.resource_subscriptions or ():
                    await authorize(ctx, str(uri))
                return await listen(ctx, params)

            add_request_handler(
                server, "subscriptions/listen", SubscriptionsListenRequestParams, gated_listen
            )

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri)
        if self._authorize is not None:
            await self._authorize(ctx, uri)
        connection = connection_of(ctx)
        self._legacy.setdefault(uri, set()).add(connection)
        if connection not in self._tracked:
            self._tracked.add(connection)
            connection.exit_stack.callback(self._forget, connection)
        return EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        self._discard(str(params.uri), connection_of(ctx))
        return EmptyResult()

    def _discard(self, uri: str, connection: Any) -> None:
        connections = self._legacy.get(uri)
        if connections is not None:
            connections.discard(connection)
            if not connections:
                del self._legacy[uri]

    def _forget(self, connection: Any) -> None:
        self._tracked.discard(connection)
        for uri in list(self._legacy):
            self._discard(uri, connection)

    async def publish(self, uri: str) -> None:
        await self.bus.publish(ResourceUpdated(uri=uri))
        connections = list(self._legacy.get(uri, ()))
        log.debug("%s updated; %d legacy subscriber(s)", uri, len(connections))
        for connection in connections:
            try:
                await connection.send_resource_updated(uri)
            except Exception:  # a connection that is going away: forget it, keep notifying the others
                log.debug("dropping a legacy subscriber of %s", uri, exc_info=True)
                self._forget(connection)
