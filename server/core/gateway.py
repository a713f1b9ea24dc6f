"""The one module that talks to Gemini: google-genai's ``client.aio.interactions``, imported lazily.

It sends our requests as raw creates and reads the JSON itself (``wire.py``: the SDK's parsing builds pydantic
model classes per call; see the README's benchmark notes), follows continuation hops so a foreground answer arrives whole
(``continuation.py``), turns ``steps`` into our domain types (``answers.py``) and Gemini's errors into ours
(``upstream_errors.py``). SDK retries are off (a retried ``create(background=True)`` can start a second billed
run); callers retry idempotent reads themselves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio

from . import continuation, errors
from .answers import to_answer, to_update
from .domain import Answer, AnswerPiece, Attachment, StreamUpdate, disposition
from .image_downloads import ImageDownloads
from .streamed_answer import HopReader, TextFeed
from .upstream_errors import Call, clean, read_envelope, to_error
from .wire import input_parts, json_body, sdk_httpx, sse_data

if TYPE_CHECKING:
    from google import genai

    from .settings import Settings

log = logging.getLogger(__name__)

# Where a streamed answer's pieces go as they arrive; it must not raise (a front door keeps its own errors).
PieceSink = Callable[[AnswerPiece], Awaitable[None]]

MAX_CONNECTIONS = 2000
WEBHOOK_IDLE_CONNECTIONS = 8
REPLICA_HEADER = "x-gemini-interactions-replica"

__all__ = ["Call", "Gateway", "to_answer", "to_update", "translate"]


class Gateway:
    def __init__(self, settings: Settings, *, replica_id: str | None = None) -> None:
        self._settings = settings
        self._replica_id = replica_id
        self._client: genai.Client | None = None
        self._images = ImageDownloads(settings)

    def prepare(self) -> None:
        """Build the SDK client now (it imports google-genai): blocking, so run it in a worker thread."""
        self._interactions()

    def _interactions(self) -> Any:
        if self._client is None:
            key = self._settings.resolved_api_key()
            if not key:
                raise errors.missing_key()
            from google import genai
            from google.genai import types

            options = types.HttpOptions(
                base_url=self._settings.base_url,  # None: the SDK honours GOOGLE_GEMINI_BASE_URL
                retry_options=types.HttpRetryOptions(attempts=1),
                timeout=int(self._settings.request_timeout_seconds * 1000),
                async_client_args={"limits": _connection_limits(self._settings.webhooks_enabled)},
                # Names the replica in upstream logs (and lets the emulator prove one watcher per job).
                headers={REPLICA_HEADER: self._replica_id} if self._replica_id else None,
            )
            self._client = genai.Client(api_key=key, http_options=options)
        return self._client.aio.interactions

    def webhooks_api(self) -> Any:
        """google-genai's ``client.aio.webhooks`` (project-level webhooks), for the operator's commands."""
        self._interactions()
        assert self._client is not None
        return self._client.aio.webhooks

    async def aclose(self) -> None:
        await self._images.aclose()
        if self._client is not None:
            try:
                await self._client.aio.aclose()
            except Exception:  # closing is best effort
                log.debug("closing the genai client failed", exc_info=True)
            self._client = None

    # -- foreground calls -------------------------------------------------------------------------------

    async def ask(
        self,
        prompt: str,
        *,
        model: str,
        system_instruction: str | None = None,
        tools: Sequence[str] = (),
        response_schema: dict[str, Any] | None = None,
        attachments: Sequence[Attachment] = (),
        previous_interaction_id: str | None = None,
        thinking_level: str | None = None,
        model_from_argument: bool = False,
        on_piece: PieceSink | None = None,
    ) -> Answer:
        """The whole answer. With ``on_piece``, every hop is a streamed create and its text and tool use go to
        ``on_piece`` as Gemini writes them; the answer returned is the same as without."""
        body: dict[str, Any] = {"model": model, "input": input_parts(prompt, attachments)}
        if system_instruction:
            body["system_instruction"] = system_instruction
        if tools:
            body["tools"] = [{"type": name} for name in tools]
        if response_schema is not None:
            body["response_format"] = {
                "type": "text",
                "mime_type": "application/json",
                "schema": response_schema,
            }
        if thinking_level:
            body["generation_config"] = {"thinking_level": thinking_level}
        if previous_interaction_id:
            body["previous_interaction_id"] = previous_interaction_id
        call = Call("answer", model, model_from_argument, previous_interaction_id)
        return await self._answer(body, call, on_piece)

    async def generate_image(
        self,
        prompt: str,
        *,
        model: str,
        aspect_ratio: str | None = None,
        previous_interaction_id: str | None = None,
        model_from_argument: bool = False,
    ) -> Answer:
        image_format: dict[str, Any] = {"type": "image", "delivery": "inline"}
        if aspect_ratio:
            image_format["aspect_ratio"] = aspect_ratio
        body: dict[str, Any] = {
            "model": model,
            "input": prompt,
            "response_format": [{"type": "text"}, image_format],
        }
        if previous_interaction_id:
            body["previous_interaction_id"] = previous_interaction_id
        call = Call("image", model, model_from_argument, previous_interaction_id)
        return await self._answer(body, call)

    async def _answer(self, body: dict[str, Any], call: Call, on_piece: PieceSink | None = None) -> Answer:
        """One whole answer: every continuation hop, within one request timeout for all of them."""
        api = self._interactions()

        async def create(hop: dict[str, Any], timeout: float) -> dict[str, Any]:
            try:
                return await json_body(api.with_raw_response.create(**hop, timeout=max(timeout, 0.001)))
            except Exception as exc:
                raise self.translate(exc, call) from None

        budget = self._settings.request_timeout_seconds
        started = time.monotonic()
        send = create if on_piece is None else self._streamed_hops(api, call, on_piece)
        followed = await continuation.follow(body, send, budget=budget)
        notes = [followed.stopped] if followed.stopped else []
        left = budget - (time.monotonic() - started)
        fetched, failed = await self._images.fetch(followed.interaction, timeout=max(1.0, left))
        if failed:
            notes.append(f"{failed} image(s) Gemini made could not be downloaded; see the server log.")
        answer = replace(to_answer(followed.interaction, fetched=fetched), incomplete=" ".join(notes) or None)
        usage = answer.usage
        log.info(
            "answer %s from %s: %d part(s), %s tokens%s",
            answer.interaction_id,
            answer.model or answer.agent,
            followed.hops,
            usage.total_tokens if usage else "?",
            " (incomplete)" if answer.incomplete else "",
        )
        return answer

    def _streamed_hops(self, api: Any, call: Call, on_piece: PieceSink) -> continuation.SendHop:
        """A ``send`` for :func:`continuation.follow` that streams each hop (one text feed for all of them)."""
        feed = TextFeed()

        async def send(hop: dict[str, Any], timeout: float) -> dict[str, Any]:
            reader = HopReader(feed)
            try:
                with anyio.fail_after(max(timeout, 0.001)):
                    async with api.with_streaming_response.create(
                        **hop, stream=True, timeout=max(timeout, 0.001)
                    ) as response:
                        async for data in sse_data(response.iter_lines()):
                            for piece in reader.read(data):
                                await on_piece(piece)
            except TimeoutError:
                raise errors.UpstreamTimeout(
                    "Gemini did not finish this answer in time (GEMINI_INTERACTIONS_REQUEST_TIMEOUT_SECONDS). "
                    "For long work use research, which runs in the background. Try again in a moment."
                ) from None
            except errors.GeminiInteractionsError:
                raise
            except Exception as exc:
                raise self.translate(exc, call) from None
            interaction = reader.interaction()
            if not interaction.get("id"):
                raise errors.UpstreamError(
                    "Gemini's streamed answer ended before it said which interaction it was. Try again."
                )
            return interaction

        return send

    # -- background research -----------------------------------------------------------------------------

    async def start_research(
        self, prompt: str, *, agent: str, agent_from_argument: bool = False, plan_first: bool = False
    ) -> Answer:
        """One create, never retried: a retry after a dropped connection could start a second billed run.

        ``plan_first``: collaborative planning: the agent proposes a plan and stops (see ``run_plan``).
        """
        return await self._create_research(
            {"input": prompt, "agent_config": _research_config(planning=True if plan_first else None)},
            Call("research", agent, agent_from_argument),
        )

    async def run_plan(self, plan_id: str, reply: str, *, agent: str) -> Answer:
        """Run the plan that interaction ``plan_id`` proposed: a new interaction continuing it, planning off, whose
        input approves the plan (with the user's changes, if ``reply`` has any). Never retried, like a start."""
        body = {
            "input": reply,
            "previous_interaction_id": plan_id,
            "agent_config": _research_config(planning=False),
        }
        return await self._create_research(body, Call("research", agent, False, plan_id))

    async def _create_research(self, body: dict[str, Any], call: Call) -> Answer:
        api = self._interactions()
        try:
            interaction = await json_body(
                api.with_raw_response.create(
                    agent=call.model,
                    background=True,
                    timeout=self._settings.research_create_timeout_seconds,
                    **body,
                )
            )
        except Exception as exc:
            raise self.translate(exc, call) from None
        return to_answer(interaction)

    async def get(self, interaction_id: str, *, timeout: float = 30.0, with_images: bool = False) -> Answer:
        """The interaction as it is now. ``with_images``: once it has ended, also download the images Gemini
        delivered by ``uri`` (report charts), so they are kept like inline ones."""
        api = self._interactions()
        try:
            interaction = await json_body(api.with_raw_response.get(interaction_id, timeout=timeout))
        except Exception as exc:
            raise self.translate(exc) from None
        fetched: dict[str, bytes] = {}
        if with_images and disposition(str(interaction.get("status"))) == "terminal":
            fetched, _ = await self._images.fetch(interaction, timeout=timeout)
        return to_answer(interaction, fetched=fetched)

    async def cancel(self, interaction_id: str, *, timeout: float = 30.0) -> None:
        api = self._interactions()
        try:
            await api.cancel(interaction_id, timeout=timeout)
        except Exception as exc:
            raise self.translate(exc) from None

    async def stream(
        self, interaction_id: str, *, last_event_id: str | None = None, read_timeout: float = 60.0
    ) -> AsyncIterator[StreamUpdate]:
        """Events of a running interaction; resumes after ``last_event_id``.

        Ends silently when the server cuts the stream (the 10-minute cut); raises UpstreamTimeout when no
        event arrives within ``read_timeout``.
        """
        api = self._interactions()
        # The raw SSE lines, parsed here: the SDK builds a pydantic model class per event (about 2 ms each),
        # which makes a thousand watched streams CPU-bound. Errors still arrive as the SDK's exceptions.
        try:
            async with api.with_streaming_response.get(
                interaction_id, stream=True, last_event_id=last_event_id, timeout=read_timeout
            ) as response:
                async for data in sse_data(response.iter_lines()):
                    update = to_update(data)
                    if update is not None:
                        yield update
        except errors.GeminiInteractionsError:
            raise
        except Exception as exc:
            raise self.translate(exc) from None

    # -- errors ------------------------------------------------------------------------------------------

    def translate(self, exc: BaseException, call: Call | None = None) -> Exception:
        """An SDK exception as our error, with a message that says what to do next and carries no secret."""
        key = self._settings.resolved_api_key()
        return translate(exc, call or Call(), secrets=(key,) if key else ())


def _research_config(*, planning: bool | None) -> dict[str, Any]:
    """Deep Research's ``agent_config``. Google's Deep Research guide ("Collaborative planning"): the planning
    flag is read on every turn, and a turn with it off approves the plan and runs the research."""
    config: dict[str, Any] = {"type": "deep-research", "thinking_summaries": "auto"}
    if planning is not None:
        config["collaborative_planning"] = planning
    return config


def _connection_limits(webhooks: bool) -> Any:
    # One research watcher holds one streaming connection; httpx's default pool of 100 would queue the rest.
    # With webhooks on nothing is held open: a few idle connections are enough to reuse.
    idle = WEBHOOK_IDLE_CONNECTIONS if webhooks else 100
    return sdk_httpx().Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=idle)


# -- translation ------------------------------------------------------------------------------------------


def translate(exc: BaseException, call: Call | None = None, *, secrets: Sequence[str] = ()) -> Exception:
    """Map an SDK exception to our error tree, with a message that says what to do next."""
    if isinstance(exc, errors.GeminiInteractionsError):
        return exc
    call = call or Call()
    from google.genai import _interactions as gi

    if isinstance(exc, gi.APITimeoutError) or _is_transport(exc, "TimeoutException"):
        hint = (
            " For long work use start_research, which runs in the background."
            if call.kind != "research"
            else ""
        )
        return errors.UpstreamTimeout(f"Gemini did not answer in time.{hint} Try again in a moment.")
    if isinstance(exc, gi.APIConnectionError) or _is_transport(exc, "TransportError"):
        return errors.UpstreamUnavailable(
            "Could not reach the Gemini API (connection failed). Check the network or GOOGLE_GEMINI_BASE_URL, "
            "then try again."
        )
    if isinstance(exc, gi.APIStatusError):
        response = getattr(exc, "response", None)
        envelope = read_envelope(
            int(getattr(exc, "status_code", 0) or 0),
            getattr(exc, "body", None) or getattr(exc, "message", ""),
            getattr(response, "headers", None),
        )
        return to_error(envelope, call, secrets=secrets)
    if isinstance(exc, gi.APIError):
        return errors.UpstreamError(
            f"Gemini returned a response we could not read: {clean(str(getattr(exc, 'message', exc)), secrets)}. "
            "Try again in a moment."
        )
    if isinstance(exc, (ValueError, TypeError)):
        return errors.InvalidInput(f"The request was not valid: {clean(str(exc), secrets)}")
    log.exception("unexpected error from the Gemini SDK", exc_info=exc)
    return errors.UpstreamError("Unexpected failure talking to Gemini; see the server log. Try again.")


def _is_transport(exc: BaseException, name: str) -> bool:
    """An httpx/httpx2 error raised while reading a streamed body (the SDK wraps only the request)."""
    return any(cls.__name__ == name and cls.__module__.startswith("httpx") for cls in type(exc).__mro__)
