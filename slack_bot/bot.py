"""The running bot: the Bolt app, the Core it calls, and the services that outlive one request.

Built by ``app.create_app`` (the one factory); listeners reach what they need through it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from server.core import ConfigurationError, NotReady, Origin

from .authorization import BotAuthorization, viewer
from .config import SlackConfig
from .delivery import ReportDelivery
from .home import HomeTab
from .incoming import IncomingText
from .interrupted import report_interrupted_starts
from .progress import StartedMessages
from .research_access import ResearchAccess
from .tasks import TaskSupervisor
from .watcher import JobEvents

if TYPE_CHECKING:
    from slack_sdk.socket_mode.aiohttp import SocketModeClient

    from server.core import Core, Store

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0
SEEN_EVENTS_TTL_SECONDS = 24 * 3600


@dataclass(slots=True)
class SlackBot:
    app: AsyncApp
    core: Core
    client: AsyncWebClient  # answers and edits: retries connection errors and 5xx, waits out 429s (pacing.py)
    delivery_client: AsyncWebClient  # reports: never waits out a 429 or 5xx inside a call
    config: SlackConfig
    authorization: BotAuthorization
    tasks: TaskSupervisor
    started_messages: StartedMessages
    deliveries: ReportDelivery
    home: HomeTab
    incoming: IncomingText
    job_events: JobEvents
    turn_slots: asyncio.Semaphore
    research_access: ResearchAccess
    socket_client: SocketModeClient | None = None  # Socket Mode's connection, once opened (cli.py)
    _session: aiohttp.ClientSession | None = None

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

    async def readable(self, text: str) -> str:
        """What the person typed, from the text Slack sent (``incoming.py``): every listener's text goes through
        this before the core sees it."""
        return await self.incoming.readable(text)

    @staticmethod
    def viewer(team_id: str | None, user_id: str | None) -> Origin:
        return viewer(team_id, user_id)

    def spawn_once(self, body: dict[str, Any], coro: Coroutine[Any, Any, Any], *, name: str) -> None:
        """``spawn_turn`` for a slash command or a button click, unless that very request was taken before.

        Slack signs a request, not its delivery: one replayed inside the five-minute signing window passes the
        signature check again. Its ``trigger_id`` gives it away (``first_time``), in any replica.
        """

        async def once() -> None:
            try:
                fresh = await self._fresh(body, name)
            except BaseException:  # cancelled while checking: the work never starts
                coro.close()
                raise
            if not fresh:
                coro.close()
                log.info("ignored a replayed %s (its trigger_id was seen before)", name)
                return
            await coro

        self.spawn_turn(once(), name=name)

    async def _fresh(self, body: dict[str, Any], name: str) -> bool:
        try:
            return await self.first_time(body)
        except Exception:  # the store is down: a replay is unlikely, a user left without an answer is certain
            log.warning("could not check %s for a replay; running it", name, exc_info=True)
            return True

    async def first_time(self, body: dict[str, Any]) -> bool:
        """False for a request we have already taken: an Events API delivery (a retry, or the same event_id
        again), or a slash command or button click replayed (the same trigger_id)."""
        if event_id := body.get("event_id"):
            return await self.store.first_seen(f"slack-event:{event_id}")
        if trigger_id := body.get("trigger_id"):
            return await self.store.first_seen(f"slack-trigger:{trigger_id}")
        return True

    async def slack_connected(self) -> bool:
        """Socket Mode: the connection to Slack is up. HTTP mode: Slack accepted the token at start-up."""
        if self.config.socket_mode:
            return self.socket_client is not None and await self.socket_client.is_connected()
        return self.authorization.authorized

    async def workspace_url(self) -> str | None:
        """``https://<workspace>.slack.com/``, to link to threads."""
        return await self.authorization.workspace_url()

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
            await self._first_store_attempt()
            await self._who_am_i()
            await warm_up
        finally:
            warm_up.cancel()
        self.tasks.supervise(self._follow_jobs, name="research event watcher")
        self.tasks.supervise(self._sweep_forever, name="report delivery sweep")

    async def _first_store_attempt(self) -> None:
        """Wait for the first attempt at opening the job store (a normal start-up serves with it open). A
        database that is not up yet does not stop the bot: the core keeps retrying, ``/readyz`` says 503 until it
        opens, and the work that needs it starts then. A bad setting does stop it."""
        try:
            await self.core.ready()
        except NotReady as exc:
            log.warning("starting without the job store for now: %s", exc)

    async def _follow_jobs(self) -> None:
        await self.core.opened()
        await self.job_events.watch()

    async def _who_am_i(self) -> None:
        try:
            await self.authorization.authorize()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ConfigurationError(
                f"Could not reach Slack's Web API at {self.config.api_url} ({exc.__class__.__name__}). "
                "Check the network (and SLACK_API_URL, if you set it), then start the bot again."
            ) from None

    async def _sweep_forever(self) -> None:
        """Deliver whatever is due now (after a restart: everything missed), then look again periodically."""
        await self.core.opened()
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
