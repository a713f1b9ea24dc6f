"""``Core``: the one object both front doors use. It answers, draws and researches.

    async with Core.running(settings) as core:
        answer = await core.ask("hello", caller=Origin(source="mcp"))
        job = await core.research.start("TPUs", origin=Origin(source="mcp"))

``Core.running`` returns at once: the store is opened (and unfinished jobs resumed) in the background, so an
MCP client that spawns us is answered quickly; calls that need the store wait for the first attempt at opening it
(``core.research``). An attempt that fails (PostgreSQL not up yet, no file descriptors left) is logged and tried
again with backoff, for as long as the process runs; meanwhile those calls answer ``NotReady`` ("try again in a
moment") and ``core.readiness()`` says why, for the front doors' ``/readyz``. A bad setting is not retried.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import anyio

from . import errors, images, owners
from .costs import Costs
from .domain import Answer, Attachment, GeneratedImage, Origin, ResearchJob, ToolName
from .gateway import Gateway, PieceSink
from .images import SavedImage
from .limits import check_prompt
from .models import ThinkingLevel
from .private_files import check_writable, private_dir
from .readiness import (
    FIRST_OPEN_WAIT_SECONDS,
    STORE_ATTEMPT_SECONDS,
    STORE_RETRY_MAX_SECONDS,
    Readiness,
    StoreOpening,
)
from .research import JobEvent, ResearchService, default_replica_id
from .settings import Settings
from .webhooks import WebhookReceiver

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

LOCAL_RECORD_SECONDS = 5.0  # the local user's answer waits at most this for its ids to be recorded


@dataclass(frozen=True, slots=True)
class ImageResult:
    answer: Answer  # answer.images holds the raw bytes too
    files: tuple[SavedImage, ...]


class Research:
    """``core.research``: the research service once the store is open. Every call waits for the first attempt at
    opening the store, then raises ``NotReady`` until it is open; ``read_report`` runs in a worker thread and
    does not wait."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def _service(self) -> ResearchService:
        return self._core.research_service or await self._core.ready()

    async def start(
        self,
        prompt: str,
        *,
        agent: str | None = None,
        origin: Origin,
        destinations: Sequence[str] = (),
        plan_first: bool = False,
    ) -> ResearchJob:
        """Start a run; its report is to reach each of ``destinations`` (a front door's own format).

        ``plan_first``: the agent proposes a plan first; the job awaits ``approve`` (status
        ``awaiting_approval``, the plan in ``job.plan``). Raises LimitReached when the operator's limits refuse
        the start (``refusal`` tells beforehand)."""
        service = await self._service()
        return await service.start(
            prompt, agent=agent, origin=origin, destinations=destinations, plan_first=plan_first
        )

    async def approve(
        self, interaction_id: str, *, viewer: Origin, changes: str | None = None
    ) -> ResearchJob:
        """Run a plan awaiting approval, as planned or with ``changes`` (only its starter may)."""
        return await (await self._service()).approve(interaction_id, viewer=viewer, changes=changes)

    async def refusal(self, origin: Origin) -> errors.LimitReached | None:
        """Why ``origin`` could not start a research run now (a limit), or None; nothing is counted."""
        await self._service()
        return await self._core.costs.limits.research_refusal(origin.owner)

    async def get(self, interaction_id: str, *, viewer: Origin) -> ResearchJob:
        return await (await self._service()).get(interaction_id, viewer=viewer)

    async def cancel(self, interaction_id: str, *, viewer: Origin) -> ResearchJob:
        return await (await self._service()).cancel(interaction_id, viewer=viewer)

    def read_report(self, job: ResearchJob) -> str:
        """The report of ``job`` (blocking: call it in a worker thread); see ``ResearchService.read_report``."""
        service = self._core.research_service
        if service is None:
            raise self._core.not_ready()
        return service.read_report(job)

    async def report_images(self, job: ResearchJob) -> list[GeneratedImage]:
        return await (await self._service()).report_images(job)

    async def settle_starts(self) -> list[ResearchJob]:
        """Turn starts cut short by a crash into ``start_unknown`` jobs now (each process also does it on a
        beat); return them."""
        return await (await self._service()).settle_starts()

    @asynccontextmanager
    async def events(self) -> AsyncIterator[AsyncIterator[JobEvent]]:
        """Every job change, from every process: ``async with core.research.events() as events: ...``"""
        service = await self._service()
        async with service.events() as stream:
            yield stream

    # Last in the class: below it, ``list`` in an annotation would name this method, not the builtin.
    async def list(self, *, viewer: Origin, status: str | None = None, limit: int = 20) -> list[ResearchJob]:
        return await (await self._service()).list(viewer=viewer, status=status, limit=limit)


class Core:
    def __init__(self, settings: Settings, *, replica_id: str | None = None) -> None:
        self.settings = settings
        self.replica_id = replica_id or default_replica_id()
        self.gateway = Gateway(settings, replica_id=self.replica_id)
        self.research = Research(self)
        self.costs = Costs(settings, self._opened_store)
        if settings.prices_file is not None:
            _ = self.costs.prices  # the operator's table: a mistake in it stops us at start, not mid-call
        # Gemini's webhook deliveries, when GEMINI_INTERACTIONS_PUBLIC_URL and _WEBHOOK_SECRET are both set.
        self.webhooks = WebhookReceiver(settings, lambda: self._store) if settings.webhooks_enabled else None
        self._store: Store | None = None
        self._research: ResearchService | None = None
        self._open = anyio.Event()  # the research service runs
        self._opening = StoreOpening()

    @property
    def store(self) -> Store:
        if self._store is None:
            raise self.not_ready()
        return self._store

    @property
    def research_service(self) -> ResearchService | None:
        """The research service, or None while the store is not open."""
        return self._research

    async def _opened_store(self) -> Store:
        await self.ready()
        return self.store

    def readiness(self) -> Readiness:
        return self._opening.readiness(
            self._store.schema if self._store else None, ready=self._research is not None
        )

    def not_ready(self) -> errors.GeminiInteractionsError:
        """The error a call that needs the store gets while it is not open."""
        return self._opening.not_ready()

    async def ready(self) -> ResearchService:
        """The research service; a call made during the first attempt at opening the store waits for it."""
        if self._research is None and not self._opening.first_attempt.is_set():
            with anyio.move_on_after(FIRST_OPEN_WAIT_SECONDS):
                await self._opening.first_attempt.wait()
        if self._research is None:
            raise self.not_ready()
        return self._research

    async def opened(self) -> ResearchService:
        """Wait until the store is open, however long that takes (every failed attempt is logged where it is
        made); for background work that cannot start without it. A bad setting raises its ConfigurationError."""
        while self._research is None:
            if self._opening.fatal is not None:
                raise self._opening.fatal
            with anyio.move_on_after(STORE_RETRY_MAX_SECONDS):
                await self._open.wait()
        return self._research

    @classmethod
    @asynccontextmanager
    async def running(cls, settings: Settings, *, replica_id: str | None = None) -> AsyncIterator[Core]:
        core = cls(settings, replica_id=replica_id)
        async with anyio.create_task_group() as tg:
            tg.start_soon(core._serve, name="core store and research watchers")
            try:
                yield core
            finally:
                tg.cancel_scope.cancel()
        await core.gateway.aclose()

    async def _serve(self) -> None:
        store = await self._open_store()
        if store is None:
            return
        self._store = store
        try:
            service = ResearchService(
                self.settings, self.gateway, store, self.costs, replica_id=self.replica_id
            )
            async with anyio.create_task_group() as tg:
                await tg.start(service.run)  # resumes the unfinished runs
                self._research = service
                self._open.set()
                self._opening.first_attempt.set()
        finally:
            self._opening.first_attempt.set()
            with anyio.CancelScope(shield=True):
                await store.close()

    async def _open_store(self) -> Store | None:
        """Open the store, retrying with backoff until it opens (None: a bad setting, which no retry fixes)."""
        # Imported in a thread so that SQLAlchemy's import does not hold up the first MCP answers.
        store_module = await anyio.to_thread.run_sync(importlib.import_module, "server.core.store")
        store_class: type[Store] = store_module.Store
        url = self.settings.resolved_database_url()

        async def attempt() -> Store:
            private_dir(self.settings.data_dir)
            # Shielded: an open cut short by shutdown would leave a driver thread behind that blocks exit.
            with anyio.CancelScope(shield=True), anyio.fail_after(STORE_ATTEMPT_SECONDS):
                store = await store_class.open(url)
            return store

        return await self._opening.open(attempt)

    async def warm_up(self) -> None:
        """Build the Gemini client off the event loop (importing google-genai takes a second or two).

        The gateway builds it lazily on first use; a server that must answer quickly (Slack's 3 s ack) calls
        this at start-up. A missing key is not an error here: the first call reports it.
        """
        try:
            await anyio.to_thread.run_sync(self.gateway.prepare)
        except errors.ConfigurationError as exc:
            log.warning("Gemini is not usable yet: %s", exc)

    # -- foreground calls -------------------------------------------------------------------------------

    async def ask(
        self,
        prompt: str,
        *,
        model: str | None = None,
        system_instruction: str | None = None,
        tools: Sequence[ToolName] = (),
        response_schema: dict[str, Any] | None = None,
        attachments: Sequence[Attachment] = (),
        previous_interaction_id: str | None = None,
        thinking_level: ThinkingLevel | None = None,
        caller: Origin,
        on_piece: PieceSink | None = None,
    ) -> Answer:
        """Gemini's whole answer (every continuation hop); ``answer.incomplete`` says if it stopped early.

        ``model`` and ``thinking_level`` default to the settings (GEMINI_INTERACTIONS_MODEL / _THINKING_LEVEL).
        ``caller`` may continue only its own interactions, and owns the answer's ids (``owners.py``). The call is
        recorded as ``caller``'s, with its estimated cost (``answer.cost``); LimitReached when the monthly budget is
        spent.
        ``on_piece``: stream the answer, handing its text and tool use (``TextPiece``, ``ToolPiece``) to this
        callable as Gemini writes them; it must not raise. The answer returned is the same either way.
        """
        prompt = check_prompt(prompt)
        previous = (previous_interaction_id or "").strip() or None
        await self._ensure_own(previous, caller)
        await self.costs.limits.check_budget()
        answer = await self.gateway.ask(
            prompt,
            model=(model or "").strip() or self.settings.model,
            model_from_argument=bool((model or "").strip()),
            thinking_level=thinking_level or self.settings.thinking_level,
            system_instruction=(
                check_prompt(system_instruction, what="system instruction")
                if system_instruction and system_instruction.strip()
                else None
            ),
            tools=list(dict.fromkeys(tools)),
            response_schema=response_schema,
            attachments=attachments,
            previous_interaction_id=await self._thread_of(previous),
            on_piece=on_piece,
        )
        await self._record(answer, "answer", caller)
        return replace(answer, cost=await self.costs.bill("answer", answer, caller))

    async def _thread_of(self, previous: str | None) -> str | None:
        """A planned research job's id continues from its run (which holds the report), not from its plan."""
        if previous is None:
            return None
        try:
            service = self._research or await self.ready()
            return await service.thread_id(previous)
        except Exception:  # the store is down: a plain continuation from the id given still works
            log.warning("could not look up %s in the job store; continuing from it as given", previous)
            return previous

    async def generate_image(
        self,
        prompt: str,
        *,
        model: str | None = None,
        aspect_ratio: str | None = None,
        previous_interaction_id: str | None = None,
        caller: Origin,
    ) -> ImageResult:
        """Draw (or refine) an image; recorded as ``caller``'s call, like ``ask``. A refinement's earlier image
        ``previous_interaction_id`` must be ``caller``'s."""
        await self.costs.limits.check_budget()
        await anyio.to_thread.run_sync(self._check_images_dir)  # before paying for an image we could not keep
        prompt = check_prompt(prompt)
        previous = (previous_interaction_id or "").strip() or None
        await self._ensure_own(previous, caller)
        answer = await self.gateway.generate_image(
            prompt,
            model=(model or "").strip() or self.settings.image_model,
            model_from_argument=bool((model or "").strip()),
            aspect_ratio=aspect_ratio,
            previous_interaction_id=previous,
        )
        await self._record(answer, "image", caller)
        answer = replace(answer, cost=await self.costs.bill("image", answer, caller))
        files = await anyio.to_thread.run_sync(self._save_images, answer)
        return ImageResult(answer=answer, files=files)

    async def image_interaction(self, interaction_id: str, *, viewer: Origin) -> Answer:
        """An earlier generate_image interaction as Gemini keeps it: its prompt, the interaction it refined and
        its images. One read, no tokens spent: for showing the versions of an image thread. Only ``viewer``'s own
        (``owners.py``)."""
        interaction_id = (interaction_id or "").strip()
        if not interaction_id:
            raise errors.InvalidInput("The interaction id is empty: pass the id generate_image returned.")
        await self._ensure_own(interaction_id, viewer)
        return await self.gateway.get(
            interaction_id, timeout=self.settings.request_timeout_seconds, with_images=True
        )

    def _check_images_dir(self) -> None:
        directory = self.settings.images_dir
        try:
            check_writable(directory)
        except OSError as exc:
            raise errors.ConfigurationError(
                f"Images are saved in {directory}, which this server cannot write to "
                f"({exc.strerror or exc.__class__.__name__}). No image was requested, so nothing was charged. "
                "The operator should fix that folder's owner and permissions, or free disk space "
                "(GEMINI_INTERACTIONS_DATA_DIR), then try again."
            ) from None

    async def _ensure_own(self, previous: str | None, caller: Origin) -> None:
        """``owners.unknown_interaction`` unless ``caller`` may use ``previous`` (nothing to check without one).
        A named caller's answer is recorded as theirs: without the store it is refused (``NotReady``) now,
        before Gemini is paid for an answer that could not be kept."""
        if caller.owner is not None:
            await self.ready()
        if previous and owners.checks_ids(caller):
            await self.ready()
            await owners.ensure_own(self.store, previous, caller)

    async def _record(self, answer: Answer, kind: owners.InteractionKind, caller: Origin) -> None:
        """Record the answer's ids as ``caller``'s: they need the record to continue it. Nothing checks the
        local user's ids, so their answer never waits long for the store nor fails for it (as before owners)."""
        ids = [*answer.hop_ids, answer.interaction_id]
        if caller.owner is not None:
            await self.ready()
            await owners.record(self.store, ids, kind, caller)
            return
        with anyio.move_on_after(LOCAL_RECORD_SECONDS):
            try:
                await self.ready()
                await owners.record(self.store, ids, kind, caller)
                return
            except Exception:
                log.warning("could not record interaction %s", answer.interaction_id, exc_info=True)
                return
        log.warning("the store is not open yet: interaction %s was not recorded", answer.interaction_id)

    def _save_images(self, answer: Answer) -> tuple[SavedImage, ...]:
        return tuple(
            images.save(image, self.settings.images_dir, answer.interaction_id or "image")
            for image in answer.images
        )
