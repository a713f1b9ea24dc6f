"""Resource-update notifications for both protocol eras, from one ``publish(uri)``.

- 2026-07-28: ``subscriptions/listen`` streams, fed by the SDK's ``InMemorySubscriptionBus``.
- 2025-11-25: ``resources/subscribe`` + ``notifications/resources/updated``. MCPServer has no public hook
  for these, so this is the ONE module that touches the private ``_lowlevel_server`` (mcp 2.3; SDK notes §9).

Both doors run the same ``authorize(ctx, uri)`` check first, so a caller can only watch what it may read.
"""

from __future__ import annotations

import logging
import weakref
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

log = logging.getLogger(__name__)

#: Raises MCPError when the caller behind ``ctx`` may not watch ``uri``.
Authorize = Callable[[ServerRequestContext[Any, Any], str], Awaitable[None]]


class ResourceUpdates:
    """Publish ``notifications/resources/updated`` to every watcher of a URI, whichever era it speaks."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()  # pass to MCPServer(subscriptions=...)
        self._legacy: dict[str, weakref.WeakSet[Any]] = {}
        self._authorize: Authorize | None = None

    def install(self, server: MCPServer[Any], authorize: Authorize | None = None) -> None:
        """Register the legacy subscribe handlers and gate modern listen streams with ``authorize``."""
        self._authorize = authorize
        lowlevel = server._lowlevel_server
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe)
        if authorize is not None:
            listen = ListenHandler(self.bus)

            async def gated_listen(
                ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams
            ) -> SubscriptionsListenResult:
                for uri in params.notifications.resource_subscriptions or ():
                    await authorize(ctx, str(uri))
                return await listen(ctx, params)

            lowlevel.add_request_handler(
                "subscriptions/listen", SubscriptionsListenRequestParams, gated_listen
            )

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri)
        if self._authorize is not None:
            await self._authorize(ctx, uri)
        self._legacy.setdefault(uri, weakref.WeakSet()).add(ctx.session)
        return EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri)
        sessions = self._legacy.get(uri)
        if sessions is not None:
            sessions.discard(ctx.session)
            if not sessions:
                self._legacy.pop(uri, None)
        return EmptyResult()

    async def publish(self, uri: str) -> None:
        await self.bus.publish(ResourceUpdated(uri=uri))
        for session in list(self._legacy.get(uri, ())):
            try:
                await session.send_resource_updated(uri)
            except Exception:  # a closed connection: forget it, keep notifying the others
                log.debug("dropping a legacy subscriber of %s", uri, exc_info=True)
                self._legacy.get(uri, weakref.WeakSet()).discard(session)
