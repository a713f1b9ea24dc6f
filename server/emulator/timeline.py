"""One interaction: its steps, its status and the log of SSE events any number of readers replay or tail.

Steps are built only through :meth:`Interaction.start_step`, :meth:`delta` and :meth:`stop_step`, which both
update the stored step and log the matching ``step.*`` event, so a GET and a stream always agree.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .ids import event_id, iso_now, parse_event_id
from .images import ImageSeed
from .parsing import CreateRequest

if TYPE_CHECKING:
    from .hops import Continuation

TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete", "budget_exceeded"})


@dataclass(frozen=True)
class LoggedEvent:
    number: int
    event_type: str
    frame: bytes  # the SSE frame, serialised once for every reader


def sse_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    return f"event: {event_type}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


class Interaction:
    def __init__(
        self,
        interaction_id: str,
        req: CreateRequest,
        *,
        kind: str,
        history: list[dict[str, Any]],
        image_seed: ImageSeed | None,
        sparse_event_ids: bool = False,
        continuation: Continuation | None = None,
        after_plan: Interaction | None = None,
    ) -> None:
        self.id = interaction_id
        self.req = req
        self.kind = kind  # text | image | research
        self.history = history  # user_input/model_output steps of the earlier turns
        self.image_seed = image_seed
        self.created = self.updated = iso_now()
        self.created_monotonic = time.monotonic()
        self.status = "in_progress"
        self.steps: list[dict[str, Any]] = []
        self.usage: dict[str, Any] | None = None
        self.errors: list[dict[str, Any]] | None = None
        self.events: list[LoggedEvent] = []
        self.finished = False
        self.cancel_requested = False
        self.images: list[bytes] = []  # for delivery "uri"
        self.base_url = ""
        self.task: asyncio.Task[None] | None = None
        self.discarded = False  # dropped by a reset: its end is not recorded
        self.continuation = continuation  # what this hop continues (None: a fresh answer)
        self.continuation_token: str | None = None  # set when this hop stops at the decode limit
        self.final_status = "completed"  # what a run that returns normally ends as
        # Collaborative planning (plans.py): a turn that continues a plan keeps its brief, the user's replies
        # since, and the brief's directives; ``planned`` marks a turn that proposed a plan.
        self.planned = False
        self.brief: str = after_plan.brief if after_plan is not None else req.prompt
        self.replies: list[str] = [*after_plan.replies, req.prompt] if after_plan is not None else []
        inherited = after_plan.directives if after_plan is not None else {}
        self.directives: dict[str, str] = {**inherited, **req.directives}
        self._sparse = sparse_event_ids
        self._changed = asyncio.Event()
        self._done = asyncio.Event()

    # -- identity ----------------------------------------------------------------------------------
    @property
    def background(self) -> bool:
        return self.req.background

    def reduced(self, *, with_usage: bool = False) -> dict[str, Any]:
        """The step-less interaction carried by ``interaction.created`` / ``interaction.completed``."""
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "object": "interaction",
            "created": self.created,
        }
        out.update(self._actor())
        if with_usage:
            out["updated"] = self.updated
            if self.usage is not None:
                out["usage"] = self.usage
            if self.continuation_token:
                out["continuation_token"] = self.continuation_token
        return out

    def to_json(self, *, timeline: bool, include_input: bool = False) -> dict[str, Any]:
        """``timeline=False``: generated steps only (a create); True: input steps too (a GET)."""
        out: dict[str, Any] = {  # no "object" here: the SDK's Interaction has none (its SSE form does)
            "id": self.id,
            "status": self.status,
            "created": self.created,
            "updated": self.updated,
        }
        out.update(self._actor())
        if self.continuation_token:
            out["continuation_token"] = self.continuation_token
        if self.req.previous_interaction_id:
            out["previous_interaction_id"] = self.req.previous_interaction_id
        out.update(self.req.echo)
        out["steps"] = (self.req.input_steps + self.steps) if timeline else list(self.steps)
        if self.usage is not None:
            out["usage"] = self.usage
        if self.errors:
            out["errors"] = self.errors
        if include_input:
            out["input"] = self.req.raw.get("input")
        return out

    def _actor(self) -> dict[str, str]:
        """The agent, or the model that really served the request (a routed id reports its successor)."""
        return {"agent": self.req.agent} if self.req.agent else {"model": self.req.served_model or ""}

    # -- event log ----------------------------------------------------------------------------------
    def emit(self, event_type: str, payload: dict[str, Any]) -> None:
        if self.finished:
            return
        number = len(self.events) + 1
        body = {"event_type": event_type, **payload}
        if not (self._sparse and event_type == "step.delta"):
            body["event_id"] = event_id(number)
        self.events.append(LoggedEvent(number, event_type, sse_frame(event_type, body)))
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self) -> None:
        await self._changed.wait()

    async def wait_finished(self) -> None:
        await self._done.wait()

    def index_after(self, last_event_id: str | None) -> int | None:
        """Log index of the first event after ``last_event_id`` (0 without one); None for an unknown id."""
        if not last_event_id:
            return 0
        number = parse_event_id(last_event_id)
        if number is None or number > len(self.events):
            return None
        return number

    def wake_readers(self) -> None:
        self._wake()

    # -- status and steps -------------------------------------------------------------------------------
    def announce(self) -> None:
        self.emit("interaction.created", {"interaction": self.reduced()})
        self.emit("interaction.status_update", {"interaction_id": self.id, "status": "in_progress"})

    def set_status(self, status: str) -> None:
        """A status change while the run goes on (queued, idle, …), as a GET and a stream both see it."""
        self.status = status
        self.updated = iso_now()
        self.emit("interaction.status_update", {"interaction_id": self.id, "status": status})

    def start_step(self, step: dict[str, Any]) -> int:
        self.steps.append(copy.deepcopy(step))
        index = len(self.steps) - 1
        self.emit("step.start", {"index": index, "step": step})
        self.updated = iso_now()
        return index

    def delta(self, index: int, delta: dict[str, Any]) -> None:
        _apply_delta(self.steps[index], delta)
        self.emit("step.delta", {"index": index, "delta": delta})
        self.updated = iso_now()

    def stop_step(self, index: int) -> None:
        self.emit("step.stop", {"index": index})

    def add_step(self, step: dict[str, Any]) -> int:
        """A step that arrives whole (tool calls and results)."""
        index = self.start_step(step)
        self.stop_step(index)
        return index

    def finish(self, status: str, *, error: dict[str, Any] | None = None) -> None:
        if self.finished:
            return
        self.status = status
        self.updated = iso_now()
        if error is not None:
            self.errors = [error]
            self.emit("error", {"error": error})
        update: dict[str, Any] = {"interaction_id": self.id, "status": status}
        if self.continuation_token:
            update["continuation_token"] = self.continuation_token
        self.emit("interaction.status_update", update)
        self.emit("interaction.completed", {"interaction": self.reduced(with_usage=True)})
        self.finished = True
        self._done.set()
        self._wake()

    def conversation(self) -> list[dict[str, Any]]:
        """History a later turn continues from: only inputs and outputs carry over."""
        carried = [
            s for s in self.req.input_steps + self.steps if s.get("type") in ("user_input", "model_output")
        ]
        return self.history + carried


def _apply_delta(step: dict[str, Any], delta: dict[str, Any]) -> None:
    kind = delta.get("type")
    if step.get("type") == "thought":
        if kind == "thought_summary" and delta.get("content") is not None:
            step.setdefault("summary", []).append(delta["content"])
        elif kind == "thought_signature":
            step["signature"] = delta.get("signature")
        return
    content = step.setdefault("content", [])
    if kind == "text":
        if content and content[-1].get("type") == "text":
            content[-1]["text"] += delta["text"]
        else:
            content.append({"type": "text", "text": delta["text"]})
    elif kind == "text_annotation_delta":
        if content and content[-1].get("type") == "text":
            content[-1].setdefault("annotations", []).extend(delta.get("annotations", []))
    elif kind in ("image", "audio", "video", "document"):
        content.append({k: v for k, v in delta.items()})
