"""Post a finished research run into the Slack thread it came from: exactly once, even across crashes.

A delivery is a fixed list of parts: part 0 is the summary message, part 1 the report as a ``.md`` file, then
any charts the run drew. For each delivery:

1. ``claim_delivery`` in the store (atomic; only one worker in any replica gets it, for ``lease_seconds``);
2. before the first post, record that posting began (``progress["attempt"]``);
3. post each part not yet recorded, and record its ts / file id right after (``save_delivery_progress``);
4. ``complete_delivery``.

A crash between a post and its record leaves a claim that expires. The next worker sees that posting had begun
and, before posting anything, reads the thread once (``conversations.replies`` with metadata, only on this
recovery path) for parts already there: each message part carries ``metadata`` with the interaction id and
part number, and each file part has a name unique to the run.

A post never outlives the claim it was made under. Right before each post the worker renews its claim to a
whole lease (``renew_delivery_claim``; it stops if the claim is gone), and the post is cut off a safety margin
before that lease ends. Every later write is conditional on still holding the claim. Otherwise a worker held
up by Slack (a 429's ``Retry-After``) or by a stalled machine would post after another worker had taken the
delivery over.

A post cut off in flight may still reach Slack after we stopped waiting for it. So the delivery is then held
(still claimed) for one more lease before anyone, this worker included, looks in the thread for what landed:
retrying at once would read the thread before that post arrived and post the part a second time. A worker
killed mid-post leaves the same lease behind it. For the same reason Slack's 429 and 5xx answers are not
retried inside a call: the attempt ends, and the delivery is retried after ``Retry-After`` or an exponential
backoff. Attempts that post nothing new count toward ``MAX_ATTEMPTS``; then the delivery is failed for good
(``fail_delivery(final=True)``) and logged. An attempt that Slack only asked to wait (a 429, or a channel it
is still holding: ``pacing.py``) is not a failure: it counts toward the much larger ``MAX_WAITS`` instead, so a
busy channel delays a report but does not lose it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .destinations import parse_destination
from .pacing import RateLimited
from .pacing import retry_after as slack_retry_after
from .report_parts import already_posted, post_part, report_parts
from .tasks import TaskSupervisor

if TYPE_CHECKING:
    from server.core import Core, Delivery, ResearchJob

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # attempts in a row that post nothing new
MAX_WAITS = 60  # attempts that Slack asked to wait (429): each waits its Retry-After
CLAIM_MARGIN = 0.25  # of the lease: an attempt stops this long before its claim expires
CLAIM_MARGIN_MIN_SECONDS = 0.1
RETRY_MAX_SECONDS = 300.0
SWEEP_BATCH = 50
# Errors that waiting will not fix: the delivery is failed for good at once.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "no_permission",
        "missing_scope",
        "team_access_not_granted",
        "thread_not_found",
        "invalid_thread_ts",
    }
)
CRASH_EXIT_CODE = 70


@dataclass(slots=True)
class Attempt:
    """What one attempt knows and did: the delivery's progress record, and how many parts it posted."""

    progress: dict[str, Any]
    posted_now: int = 0
    in_flight: int | None = None  # the part being posted when the attempt stopped, if any

    @property
    def posted(self) -> dict[str, str]:
        return self.progress.setdefault("posted", {})


class ClaimRanOut(Exception):
    """The attempt stopped because its claim on the delivery was about to expire."""


class ClaimLost(Exception):
    """The claim expired or another worker holds it: this attempt must not post or record anything."""


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    owner: str  # names this process on its claims
    retry_base_seconds: float  # first backoff of a failed delivery (doubles each attempt)
    crash_after_post: bool = False  # test hook: exit right after a post, before it is recorded


class ReportDelivery:
    def __init__(
        self,
        core: Core,
        client: AsyncWebClient,
        tasks: TaskSupervisor,
        options: DeliveryOptions,
        *,
        on_delivering: Callable[[str], Coroutine[Any, Any, None]],
    ) -> None:
        """``client`` posts (it must not retry 429s or 5xx inside a call); ``on_delivering(job_id)`` runs in
        the background when a delivery starts (the final edit of the run's started message)."""
        self._core = core
        self._client = client
        self._tasks = tasks
        self._options = options
        self._on_delivering = on_delivering
        self._inflight: set[tuple[str, str]] = set()
        self._retry_at: dict[tuple[str, str], float] = {}

    # -- scheduling -----------------------------------------------------------------------------------------

    def schedule(self, job_id: str, destination: str, delay: float = 0.0) -> None:
        self._tasks.spawn(self._deliver_later(job_id, destination, delay), name=f"deliver {job_id}")

    async def _deliver_later(self, job_id: str, destination: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self.deliver(job_id, destination)

    async def sweep(self) -> int:
        """Start every due delivery not already in hand here; returns how many were started."""
        started = 0
        now = time.monotonic()
        for due in await self._core.store.due_deliveries(SWEEP_BATCH):
            key = (due.job_id, due.destination)
            if parse_destination(due.destination) is None or key in self._inflight:
                continue
            if self._retry_at.get(key, 0.0) > now:
                continue  # backing off; the scheduled retry will run it
            self.schedule(due.job_id, due.destination)
            started += 1
        return started

    # -- one delivery ---------------------------------------------------------------------------------------

    async def deliver(self, job_id: str, destination: str) -> bool:
        """Deliver if we can claim it; True when this call completed the delivery."""
        key = (job_id, destination)
        if key in self._inflight:
            return False
        self._inflight.add(key)
        try:
            return await self._deliver(job_id, destination)
        finally:
            self._inflight.discard(key)

    async def _deliver(self, job_id: str, destination: str) -> bool:
        store = self._core.store
        lease = self._core.settings.lease_seconds
        claim = await store.claim_delivery(job_id, destination, self._options.owner, lease)
        if claim is None:
            return False
        self._retry_at.pop((job_id, destination), None)
        job = await store.get_job(job_id)
        where = parse_destination(destination)
        if job is None or where is None:
            await store.fail_delivery(
                job_id, destination, "not a Slack thread, or the job is gone", final=True
            )
            return False
        if job.status == "completed":
            # Replies in the thread now continue from the research run itself (a planned job's run).
            await store.set_thread(*where, job.upstream_id)
        self._tasks.spawn(self._on_delivering(job_id), name=f"final edit {job_id}")
        attempt = Attempt(progress=dict(claim.progress))
        try:
            await self._post_parts(job, where[1], where[2], claim, attempt)
            if not await store.complete_delivery(job_id, destination, owner=self._options.owner):
                raise ClaimLost("the claim was lost before the delivery was recorded as done")
        except ClaimLost as exc:
            log.warning("stopped delivering %s to %s: %s", job_id, destination, exc)
            return False
        except Exception as exc:
            await self._failed(claim, attempt, exc)
            return False
        log.info("report of %s delivered to %s", job_id, destination)
        return True

    @staticmethod
    def _window(claim: Delivery, lease: float) -> float:
        """Seconds this attempt may run: until the claim expires, less a margin for clock skew and the record."""
        remaining = lease
        if claim.claim_expires_at is not None:
            remaining = (claim.claim_expires_at - datetime.now(UTC)).total_seconds()
        return max(0.05, remaining - max(CLAIM_MARGIN_MIN_SECONDS, CLAIM_MARGIN * lease))

    async def _failed(self, claim: Delivery, attempt: Attempt, exc: Exception) -> None:
        store, owner = self._core.store, self._options.owner
        lease = self._core.settings.lease_seconds
        error = _describe(exc)
        waited = _rate_limited(exc)
        stalled = int(attempt.progress.get("stalled") or 0) + (0 if attempt.posted_now or waited else 1)
        waits = int(attempt.progress.get("waits") or 0) + (1 if waited else 0)
        # A post cut off in flight may still land: hold the delivery a lease before anyone looks for it.
        hold = lease if attempt.in_flight is not None else 0.0
        final = (_permanent(exc) or stalled >= MAX_ATTEMPTS or waits >= MAX_WAITS) and not hold
        attempt.progress["stalled"] = stalled
        attempt.progress["waits"] = waits
        kept = await store.save_delivery_progress(
            claim.job_id, claim.destination, attempt.progress, owner=owner
        ) and await store.fail_delivery(
            claim.job_id, claim.destination, error, final=final, owner=owner, hold_seconds=hold
        )
        if not kept:
            log.warning("delivering %s failed (%s) after its claim was lost", claim.job_id, error)
            return
        if final:
            log.error("giving up on delivering %s to %s: %s", claim.job_id, claim.destination, error)
            return
        if hold:
            delay = hold  # then recover what the cut-off post left in the thread, and carry on
        else:
            backoff = self._options.retry_base_seconds * 2 ** (stalled - 1)
            delay = min(RETRY_MAX_SECONDS, max(backoff, _retry_after(exc)))
        log.warning("delivering %s failed (%s); retrying in %.1f s", claim.job_id, error, delay)
        self._retry_at[(claim.job_id, claim.destination)] = time.monotonic() + delay
        self.schedule(claim.job_id, claim.destination, delay)

    async def _post_parts(
        self, job: ResearchJob, channel: str, thread_ts: str, claim: Delivery, attempt: Attempt
    ) -> None:
        store = self._core.store
        parts = await report_parts(self._core, job)
        posted = attempt.posted
        if all(str(p.number) in posted for p in parts):
            return
        if attempt.progress.get("attempt"):
            # An earlier attempt began posting: what it posted but did not record is in the thread.
            found = await already_posted(self._client, job.interaction_id, channel, thread_ts, parts)
            recovered = {k: v for k, v in found.items() if k not in posted}
            if recovered:
                log.warning(
                    "parts %s of %s were posted by an earlier attempt; not posting them again",
                    sorted(recovered),
                    job.interaction_id,
                )
            posted.update(recovered)
        attempt.progress["attempt"] = int(attempt.progress.get("attempt") or 0) + 1
        await self._record(claim, attempt)
        lease = self._core.settings.lease_seconds
        for part in parts:
            if str(part.number) in posted:
                continue
            fresh = await store.renew_delivery_claim(
                claim.job_id, claim.destination, self._options.owner, lease
            )
            if fresh is None:
                raise ClaimLost("the claim expired before the next post")
            attempt.in_flight = part.number
            window = asyncio.timeout(self._window(fresh, lease))
            try:
                async with window:
                    posted[str(part.number)] = await post_part(
                        self._client, job.interaction_id, part, channel, thread_ts
                    )
            except TimeoutError:
                if window.expired():
                    raise ClaimRanOut(f"the claim ran out while posting part {part.number}") from None
                raise
            except (SlackApiError, RateLimited):
                attempt.in_flight = None  # Slack answered, or it was never sent: nothing is on its way
                raise
            attempt.in_flight = None
            attempt.posted_now += 1
            if self._options.crash_after_post:
                log.critical(
                    "test hook: exiting right after posting part %d of %s", part.number, job.interaction_id
                )
                os._exit(CRASH_EXIT_CODE)
            await self._record(claim, attempt)

    async def _record(self, claim: Delivery, attempt: Attempt) -> None:
        if not await self._core.store.save_delivery_progress(
            claim.job_id, claim.destination, attempt.progress, owner=self._options.owner
        ):
            raise ClaimLost("another worker holds the delivery now")


def _slack_error(exc: Exception) -> str | None:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return None


def _rate_limited(exc: Exception) -> bool:
    return isinstance(exc, RateLimited) or (
        isinstance(exc, SlackApiError) and exc.response.status_code == 429
    )


def _retry_after(exc: Exception) -> float:
    if isinstance(exc, RateLimited):
        return exc.retry_after
    if _rate_limited(exc):
        assert isinstance(exc, SlackApiError)
        return slack_retry_after(exc)
    return 0.0


def _permanent(exc: Exception) -> bool:
    return _slack_error(exc) in PERMANENT_ERRORS or isinstance(exc, ValueError)


def _describe(exc: Exception) -> str:
    if isinstance(exc, RateLimited):
        return f"Slack asked to wait {exc.retry_after:.0f} s"
    error = _slack_error(exc)
    if error:
        return f"Slack answered {error}"
    return f"{exc.__class__.__name__}: {exc}"[:500]
