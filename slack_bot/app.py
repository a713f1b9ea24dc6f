"""The one factory: the Web API clients, the bot's parts, the Bolt app with every listener, and the bot.

client = build_client(config)
bot = create_app(client, core, config)   # bot.app is the AsyncApp
async with bot.running():
    ...                                   # serve HTTP (slack_bot.http) or Socket Mode
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped, warning_token_skipped
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from .authorization import BotAuthorization
from .bot import SlackBot
from .config import SlackConfig, normalise_api_url
from .delivery import DeliveryOptions, ReportDelivery
from .home import HomeTab
from .incoming import IncomingText
from .listeners import register_listeners
from .pacing import MAIN_PATIENCE_SECONDS, PacedWebClient, SlackPacing
from .progress import StartedMessages
from .research_access import ResearchAccess
from .tasks import TaskSupervisor
from .watcher import JobEvents

if TYPE_CHECKING:
    from server.core import Core

CLIENT_TIMEOUT_SECONDS = 30


class _DropTokenSkippedWarning(logging.Filter):
    """AsyncApp warns that the token is unused when a client (and an authorize function) are passed: by design."""

    _EXPECTED = frozenset({warning_client_prioritized_and_token_skipped(), warning_token_skipped()})

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self._EXPECTED


logging.getLogger("slack_bolt.AsyncApp").addFilter(_DropTokenSkippedWarning())


def build_client(config: SlackConfig, pacing: SlackPacing | None = None) -> PacedWebClient:
    """The bot's Web API client: ``SLACK_API_URL`` honoured, retries on connection errors and 5xx, and Slack's
    429s waited out (``pacing.py``)."""
    return PacedWebClient(
        pacing=pacing or SlackPacing(),
        patience=MAIN_PATIENCE_SECONDS,
        token=config.bot_token,
        base_url=normalise_api_url(config.api_url),
        timeout=CLIENT_TIMEOUT_SECONDS,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_delivery_client(config: SlackConfig, pacing: SlackPacing) -> PacedWebClient:
    """The client that posts reports: it retries a failed connection, but never waits out a 429 or a 5xx
    inside a call (a delivery attempt must end before its claim does; delivery.py retries it later). It shares
    the main client's pacing, so it does not post into a channel Slack asked the other to wait for."""
    return PacedWebClient(
        pacing=pacing,
        patience=0.0,
        token=config.bot_token,
        base_url=normalise_api_url(config.api_url),
        timeout=CLIENT_TIMEOUT_SECONDS,
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1)],
    )


def bolt_app(
    client: AsyncWebClient, config: SlackConfig, authorize: Callable[[], Awaitable[AuthorizeResult]]
) -> AsyncApp:
    """A bare AsyncApp around ``client``; signatures are checked in HTTP mode (Socket Mode needs none).

    ``authorize`` answers from the bot's own auth.test, made once at start-up (``authorization.py``).
    """

    async def bolt_authorize() -> AuthorizeResult:  # Bolt passes arguments by parameter name: take none
        return await authorize()

    return AsyncApp(
        client=client,
        authorize=bolt_authorize,
        signing_secret=config.signing_secret or "",
        request_verification_enabled=not config.socket_mode,
        # Our listeners only ack and hand the work to a tracked task, so running them before the response
        # costs nothing and spares Bolt's 10 ms ack polling and one task per request.
        process_before_response=True,
        ignoring_self_events_enabled=True,
        name="gemini-interactions-slack",
    )


def create_app(client: AsyncWebClient, core: Core, config: SlackConfig) -> SlackBot:
    """The bot: an AsyncApp with every listener, plus the background services that deliver reports."""
    tasks = TaskSupervisor()
    pacing = client.pacing if isinstance(client, PacedWebClient) else SlackPacing()
    delivery_client = build_delivery_client(config, pacing)
    authorization = BotAuthorization(client, config.bot_token)
    started = StartedMessages(core, client, tasks, progress_seconds=config.progress_seconds)
    options = DeliveryOptions(
        owner=f"slack-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}",
        retry_base_seconds=config.retry_base_seconds,
        crash_after_post=config.crash_after_post,
    )
    deliveries = ReportDelivery(core, delivery_client, tasks, options, on_delivering=started.refresh)
    home = HomeTab(core, client, tasks, workspace_url=authorization.workspace_url)
    access = ResearchAccess(client, config.research_allowed, cache_seconds=config.usergroup_cache_seconds)
    bot = SlackBot(
        app=bolt_app(client, config, authorization.authorize),
        core=core,
        client=client,
        delivery_client=delivery_client,
        config=config,
        authorization=authorization,
        tasks=tasks,
        started_messages=started,
        deliveries=deliveries,
        home=home,
        incoming=IncomingText(client),
        job_events=JobEvents(core, tasks, started, deliveries, home),
        turn_slots=asyncio.Semaphore(config.max_turns),
        research_access=access,
    )
    register_listeners(bot.app, bot)
    return bot
