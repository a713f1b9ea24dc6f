"""The emulator's state: stored interactions, their running jobs, the fault switches and the stats."""

from __future__ import annotations

import asyncio
import base64
import copy
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from . import catalog, hops, jobs
from .config import EmulatorConfig
from .content import Conversation
from .errors import agent_not_found, failed_precondition, invalid_argument, model_not_found, not_found
from .faults import Faults
from .ids import new_interaction_id
from .parsing import CreateRequest, content_text
from .stats import Stats
from .timeline import Interaction
from .webhooks import Webhooks

T = TypeVar("T")


class Emulator:
    """Holds everything; ``emu.app`` is the Starlette app that serves it.

    The emulator lives in one event loop (the one serving ``app``). ``faults``, ``stats`` and ``config`` may
    be used from any thread; :meth:`reset` may be too. Read interactions with :meth:`interaction`.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        from .app import build_app  # app imports this module's type only

        self.config = config or EmulatorConfig()
        self.faults = Faults()
        self.stats = Stats()
        self.webhooks = Webhooks(self.config)
        self._store: dict[str, Interaction] = {}
        self._continuations: dict[str, hops.Continuation] = {}
        self._bodies: deque[Any] = deque(maxlen=500)
        self._bodies_lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self.closing = False
        self.started = threading.Event()  # set once the app's startup ran in its loop
        self.on_startup: list[Callable[[], None]] = []
        self.app = build_app(self)

    # -- loop binding ------------------------------------------------------------------------------------
    def bind_loop(self) -> None:
        """Remember the serving loop (called on startup and on every request)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._closing = asyncio.Event()

    def mark_started(self) -> None:
        self.bind_loop()
        # The SDK's lists take ~0.6 s to import: not on the serving loop, in the middle of the first request.
        threading.Thread(target=catalog.warm, name="emulator-catalog", daemon=True).start()
        self.started.set()
        for callback in self.on_startup:
            callback()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    # -- API operations --------------------------------------------------------------------------------------
    def check_known(self, req: CreateRequest, version: str = "v1") -> None:
        """Google's 404 for a model or agent id it does not serve (the SDK's lists, plus the config's extras)."""
        if req.model is not None and not catalog.known_model(req.model, self.config.extra_models):
            raise model_not_found(req.model, version)
        if req.agent is not None and not catalog.known_agent(req.agent, self.config.extra_agents):
            raise agent_not_found(req.agent, version)

    def create(self, req: CreateRequest, base_url: str = "") -> Interaction:
        self.bind_loop()
        if req.is_agent and not req.background:
            raise invalid_argument(f"Agent '{req.agent}' requires background=true.")
        if req.background and not req.store:
            raise invalid_argument("background=true requires store=true.")
        if req.is_agent and req.system_instruction:
            raise invalid_argument(
                f"system_instruction is not supported for agent '{req.agent}'. Put instructions in the input."
            )
        if req.is_agent and req.wants_json:
            raise invalid_argument(
                f"Structured output (response_format) is not supported for agent '{req.agent}'."
            )
        pending = None
        if req.continuation_token is not None:
            pending = hops.check_resume(req, self._continuations.get(req.continuation_token))
        history: list[dict[str, Any]] = []
        seed = None
        previous = None
        if req.previous_interaction_id:
            previous = self._store.get(req.previous_interaction_id)
            if previous is None:
                raise not_found(req.previous_interaction_id)
            if not previous.finished:
                raise failed_precondition(
                    f"Interaction {previous.id} is still {previous.status}; continue it once it has finished."
                )
            history = previous.conversation()
            seed = previous.image_seed
        kind = "research" if req.is_agent else ("image" if req.is_image_model and not pending else "text")
        it = Interaction(
            new_interaction_id(),
            req,
            kind=kind,
            history=history,
            image_seed=seed,
            sparse_event_ids=self.config.sparse_event_ids,
            continuation=pending,
            after_plan=previous if previous is not None and previous.planned and req.is_agent else None,
        )
        it.base_url = base_url.rstrip("/")
        it.announce()
        if req.store:
            self._store[it.id] = it
        task = asyncio.get_running_loop().create_task(jobs.run(self, it), name=f"emulator-job-{it.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        it.task = task
        return it

    def lookup(self, interaction_id: str, *, transient: bool = False) -> Interaction:
        it = self._store.get(interaction_id)
        if it is None:
            raise not_found(interaction_id)
        if transient:
            window = self.faults.transient_404_seconds
            if window and _age(it) < window:
                self.faults.fired["transient_404"] += 1
                raise not_found(interaction_id)
        return it

    def cancel(self, interaction_id: str) -> Interaction:
        it = self.lookup(interaction_id)
        if it.finished:
            raise failed_precondition(f"Interaction {it.id} is already {it.status} and cannot be cancelled.")
        self.stats.record_cancel(it.id, it.status)
        it.cancel_requested = True
        it.finish("cancelled")
        if it.task is not None:
            it.task.cancel()
        return it

    def delete(self, interaction_id: str) -> None:
        """Forget the interaction. Like the real service, a running job is not cancelled by this."""
        if self._store.pop(interaction_id, None) is None:
            raise not_found(interaction_id)

    # -- helpers the jobs use ----------------------------------------------------------------------------------
    def stop_for_continuation(self, it: Interaction, rest: hops.Continuation) -> None:
        """End this hop at the decode limit: the rest of the answer waits behind a new token."""
        token = hops.new_token()
        self._continuations[token] = rest
        it.continuation_token = token
        it.final_status = "requires_continuation"

    def record_body(self, body: Any) -> None:
        with self._bodies_lock:
            self._bodies.append(copy.deepcopy(body))

    def received_bodies(self) -> list[Any]:
        """The create bodies received (the last 500), oldest first: what clients really sent."""
        with self._bodies_lock:
            return copy.deepcopy(list(self._bodies))

    def conversation_info(self, it: Interaction) -> Conversation:
        turns = [s for s in it.history + it.req.input_steps if s.get("type") == "user_input"]
        first = content_text(turns[0].get("content", [])) if turns else None
        return Conversation(earlier_turns=max(0, len(turns) - 1), first_message=first)

    def image_item(
        self, it: Interaction, data: bytes, mime_type: str, delivery: str | None, *, host: str | None = None
    ) -> dict[str, Any]:
        """An image content item: inline, or by ``uri`` (served by ``/_emulator/files``; ``host`` overrides the
        base URL the uri points at)."""
        it.images.append(data)
        if delivery == "uri":
            base = (host or it.base_url).rstrip("/")
            return {
                "type": "image",
                "mime_type": mime_type,
                "uri": f"{base}/_emulator/files/{it.id}/{len(it.images) - 1}",
            }
        return {"type": "image", "mime_type": mime_type, "data": base64.b64encode(data).decode()}

    async def wait_forever(self) -> None:
        """Block a job until it is cancelled (by ``cancel`` or by the emulator stopping)."""
        await asyncio.Event().wait()

    async def wait_closing(self, limit: float) -> None:
        """Sleep until the emulator stops, or ``limit`` seconds."""
        self.bind_loop()
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=limit)
        except TimeoutError:
            pass

    # -- in-process inspection (safe from any thread) ----------------------------------------------------------
    def interaction(self, interaction_id: str) -> dict[str, Any] | None:
        """A copy of the stored interaction as a GET would return it (None when unknown or deleted)."""

        def read() -> dict[str, Any] | None:
            it = self._store.get(interaction_id)
            return copy.deepcopy(it.to_json(timeline=True)) if it is not None else None

        return self._in_loop(read)

    def interaction_ids(self) -> list[str]:
        return self._in_loop(lambda: list(self._store))

    def running_jobs(self) -> int:
        return len(self._tasks)

    def image_bytes(self, interaction_id: str, number: int) -> bytes | None:
        """Image ``number`` produced by an interaction (what ``/_emulator/files/{id}/{n}`` serves)."""
        it = self._store.get(interaction_id)
        if it is None or not 0 <= number < len(it.images):
            return None
        return it.images[number]

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def begin_shutdown(self) -> None:
        """Release every hang and end every tailing stream; call on the loop."""
        self.closing = True
        if self._closing is not None:
            self._closing.set()
        for it in list(self._store.values()):
            it.wake_readers()

    async def aclose(self) -> None:
        """Stop: end hangs and streams, cancel running jobs and wait for them."""
        self.begin_shutdown()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.webhooks.aclose()

    def reset(self) -> None:
        """Forget interactions (cancelling their jobs), stats and faults. Safe from any thread."""
        self._in_loop(self.reset_now)

    def _in_loop(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Run ``fn`` on the emulator's loop when called from another thread, else directly."""
        loop = self._loop
        if loop is not None and loop.is_running() and not _in_loop(loop):

            async def call() -> T:
                return fn()

            return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)
        return fn()

    def reset_now(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for it in list(self._store.values()):
            it.discarded = True
            it.wake_readers()
        self._store.clear()
        self._continuations.clear()
        with self._bodies_lock:
            self._bodies.clear()
        self.stats.reset()
        self.faults.clear()
        self.webhooks.reset()


def _age(it: Interaction) -> float:
    return time.monotonic() - it.created_monotonic


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
