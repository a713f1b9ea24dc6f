"""The running bot: the Bolt app, the Core it calls, and the services that outlive one request."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from server.core.domain import Origin
from server.core.errors import ConfigurationError

from .app import bolt_app, build_delivery_client
from .config import SlackConfig
from .delivery import ReportDelivery
from .home import HomeTab
from .listeners import register_listeners
from .progress import StartedMessages
from .research_runs import report_interrupted_starts
from .tasks import TaskSupervisor
from .watcher import watch_job_events

if TYPE_CHECKING:
    from server.core.service import Core
    from server.core.store import Store

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0
SEEN_EVENTS_TTL_SECONDS = 24 * 3600


class SlackBot:
    def __init__(self, *, core: Core, client: AsyncWebClient, config: SlackConfig) -> None:
        self.core = core
        self.client = client
        self.delivery_client = build_delivery_client(config)
        self.config = config
        self.owner = f"slack-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.tasks = TaskSupervisor()
        self.started_messages = StartedMessages(self)
        self.deliveries = ReportDelivery(self)
        self.home = HomeTab(self)

        async def authorize() -> AuthorizeResult:  # Bolt passes arguments by parameter name: take none
            return await self._authorize()

        self.app = bolt_app(client, config, authorize)
        register_listeners(self.app, self)
        self._auth: AuthorizeResult | None = None
        self._session: aiohttp.ClientSession | None = None
        self.turn_slots = asyncio.Semaphore(config.max_turns)

    @property
    def store(self) -> Store:
        return self.core.store

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> None:
        self.tasks.spawn(coro, name=name)

    def spawn_turn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> None:
        """Work a request asked for (an answer, an image, a research start), ``max_turns`` at a time.

        Acks share the event loop with this work; a burst of requests must not make later acks queue behind
        hundreds of answers being prepared at once. Waiting for a slot costs nothing.
        """

        async def gated() -> None:
            async with self.turn_slots:
                await coro

        self.tasks.spawn(gated(), name=name)

    @staticmethod
    def viewer(team_id: str | None, user_id: str | None) -> Origin:
        return Origin(source="slack", owner=user_id, team_id=team_id)

    async def first_time(self, body: dict[str, Any]) -> bool:
        """False for an Events API delivery we have already taken (a retry, or the same event_id again)."""
        event_id = body.get("event_id")
        if not event_id:
            return True
        return await self.store.first_seen(f"slack-event:{event_id}")

    async def our_turn(self, key: str) -> bool:
        """Whether this replica does the cosmetic Slack update ``key`` (an edit, a Home refresh) that every
        replica is told about: only the first to record it does. On a store error it does it anyway (a
        duplicate edit is better than none)."""
        try:
            return await self.store.first_seen(key)
        except Exception:
            log.warning("could not agree on %s with other replicas; doing it here", key, exc_info=True)
            return True

    async def workspace_url(self) -> str | None:
        """``https://<workspace>.slack.com/``, to link to threads."""
        return (await self._authorize()).url or None

    async def _authorize(self) -> AuthorizeResult:
        """Who the bot is (auth.test), asked once: at start-up, or on first use if start-up could not."""
        if self._auth is None:
            try:
                response = await self.client.auth_test()
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked"):
                    raise ConfigurationError(
                        f"Slack rejected SLACK_BOT_TOKEN ({error}). Copy the Bot User OAuth Token (xoxb-…) again "
                        "from the app's OAuth & Permissions page; reinstall the app if it was revoked."
                    ) from None
                raise
            self._auth = AuthorizeResult.from_auth_test_response(
                bot_token=self.config.bot_token, auth_test_response=response
            )
        return self._auth

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.client.session is None:
            # One pooled session for every Web API call (slack_sdk otherwise opens a new one per call).
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.client.timeout))
            self.client.session = self._session
        if self.delivery_client.session is None:
            self.delivery_client.session = self.client.session
        warm_up = asyncio.create_task(self.core.warm_up())  # ~2 s of imports, off the loop
        try:
            # The store first: leaving Core.running while its store is still opening strands a driver task.
            await self.core.ready()
            await self._authorize()
            await warm_up
        finally:
            warm_up.cancel()
        self.tasks.supervise(lambda: watch_job_events(self), name="research event watcher")
        self.tasks.supervise(self._sweep_forever, name="report delivery sweep")

    async def _sweep_forever(self) -> None:
        """Deliver whatever is due now (after a restart: everything missed), then look again periodically."""
        while True:
            await self.deliveries.sweep()
            try:
                await report_interrupted_starts(self)
            except Exception:
                log.exception("looking for research runs whose start was interrupted failed")
            try:
                await self.store.prune_seen(SEEN_EVENTS_TTL_SECONDS)
            except Exception:
                log.exception("pruning seen Slack events failed")
            await asyncio.sleep(self.config.sweep_seconds)

    async def stop(self, grace_seconds: float = SHUTDOWN_GRACE_SECONDS) -> None:
        await self.tasks.shutdown(grace_seconds)
        if self._session is not None:
            await self._session.close()
            self.client.session = self.delivery_client.session = None
            self._session = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SlackBot]:
        try:
            await self.start()
            yield self
        finally:
            await self.stop()
