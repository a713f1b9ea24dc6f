"""The one module that talks to Gemini: google-genai's ``client.aio.interactions``, imported lazily.

It turns ``steps`` into our domain types and ``google.genai._interactions`` errors into ``errors.py``.
SDK retries are off (a retried ``create(background=True)`` can start a second billed run); callers retry
idempotent reads themselves.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from . import errors
from .domain import Answer, Attachment, Citation, GeneratedImage, StreamUpdate, Usage

if TYPE_CHECKING:
    from google import genai

    from .settings import Settings

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 2000
REPLICA_HEADER = "x-gemini-interactions-replica"


class Gateway:
    def __init__(self, settings: Settings, *, replica_id: str | None = None) -> None:
        self._settings = settings
        self._replica_id = replica_id
        self._client: genai.Client | None = None

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
                async_client_args={"limits": _connection_limits()},
                # Names the replica in upstream logs (and lets the emulator prove one watcher per job).
                headers={REPLICA_HEADER: self._replica_id} if self._replica_id else None,
            )
            self._client = genai.Client(api_key=key, http_options=options)
        return self._client.aio.interactions

    async def aclose(self) -> None:
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
    ) -> Answer:
        body: dict[str, Any] = {"model": model, "input": _input(prompt, attachments)}
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
        if previous_interaction_id:
            body["previous_interaction_id"] = previous_interaction_id
        return await self._create(body, continuing=bool(previous_interaction_id))

    async def generate_image(
        self,
        prompt: str,
        *,
        model: str,
        aspect_ratio: str | None = None,
        previous_interaction_id: str | None = None,
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
        return await self._create(body, continuing=bool(previous_interaction_id))

    async def _create(self, body: dict[str, Any], *, continuing: bool) -> Answer:
        api = self._interactions()
        try:
            interaction = await _json(
                api.with_raw_response.create(**body, timeout=self._settings.request_timeout_seconds)
            )
        except Exception as exc:
            raise translate(exc, continuing=continuing) from None
        return to_answer(interaction)

    # -- background research -----------------------------------------------------------------------------

    async def start_research(self, prompt: str, *, agent: str) -> Answer:
        """One create, never retried: a retry after a dropped connection could start a second billed run."""
        api = self._interactions()
        try:
            interaction = await _json(
                api.with_raw_response.create(
                    agent=agent,
                    input=prompt,
                    background=True,
                    agent_config={"type": "deep-research", "thinking_summaries": "auto"},
                    timeout=self._settings.research_create_timeout_seconds,
                )
            )
        except Exception as exc:
            raise translate(exc, research=True) from None
        return to_answer(interaction)

    async def get(self, interaction_id: str, *, timeout: float = 30.0) -> Answer:
        api = self._interactions()
        try:
            interaction = await _json(api.with_raw_response.get(interaction_id, timeout=timeout))
        except Exception as exc:
            raise translate(exc) from None
        return to_answer(interaction)

    async def cancel(self, interaction_id: str, *, timeout: float = 30.0) -> None:
        api = self._interactions()
        try:
            await api.cancel(interaction_id, timeout=timeout)
        except Exception as exc:
            raise translate(exc) from None

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
                async for data in _sse_data(response.iter_lines()):
                    update = to_update(data)
                    if update is not None:
                        yield update
        except errors.GeminiInteractionsError:
            raise
        except Exception as exc:
            raise translate(exc) from None


async def _json(request: Awaitable[Any]) -> dict[str, Any]:
    """The JSON body of a raw response: the SDK's own parsing builds pydantic model classes per call, which
    costs ~10 ms of CPU per interaction. Errors are still raised as the SDK's exceptions."""
    response = await request
    try:
        data = response.json()
        if inspect.isawaitable(data):
            data = await data
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise errors.UpstreamError(
            "Gemini returned a response we could not read (not a JSON object). Try again in a moment."
        )
    return data


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """The JSON payloads of an SSE stream; text outside ``data:`` lines (the 10-minute cut) is ignored."""
    buffer: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            buffer.append(line[5:].removeprefix(" "))
        elif not line and buffer:
            data, buffer = "\n".join(buffer), []
            if data == "[DONE]":
                return
            try:
                payload = json.loads(data)
            except ValueError:
                log.warning("skipping an unreadable stream event")
                continue
            if isinstance(payload, dict):
                yield payload


def _connection_limits() -> Any:
    # One research watcher holds one streaming connection; httpx's default pool of 100 would queue the rest.
    try:
        import httpx2 as httpx
    except ImportError:  # the SDK falls back to httpx the same way
        import httpx
    return httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=100)


# -- translation ------------------------------------------------------------------------------------------


def _input(prompt: str, attachments: Sequence[Attachment]) -> Any:
    if not attachments:
        return prompt
    parts: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
    for item in attachments:
        if item.kind == "text":
            text = item.data.decode("utf-8", errors="replace")
            parts.append({"type": "text", "text": f"Attached file {item.name}:\n\n{text}"})
        else:
            parts.append(
                {
                    "type": item.kind,
                    "data": base64.b64encode(item.data).decode("ascii"),
                    "mime_type": item.mime_type,
                }
            )
    return parts


def _dump(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    return obj.model_dump(mode="json", exclude_none=True)


def to_answer(interaction: Any) -> Answer:
    data = _dump(interaction)
    texts: list[str] = []
    thoughts: list[str] = []
    citations: dict[str, Citation] = {}
    images: list[GeneratedImage] = []
    for step in data.get("steps") or []:
        kind = step.get("type")
        if kind == "thought":
            thoughts.extend(s["text"] for s in step.get("summary") or [] if s.get("text"))
        elif kind == "model_output":
            for item in step.get("content") or []:
                if item.get("type") == "text" and item.get("text"):
                    texts.append(item["text"])
                    for note in item.get("annotations") or []:
                        if note.get("url"):
                            citations.setdefault(
                                note["url"], Citation(url=note["url"], title=note.get("title"))
                            )
                elif item.get("type") == "image" and item.get("data"):
                    images.append(
                        GeneratedImage(
                            data=base64.b64decode(item["data"]),
                            mime_type=item.get("mime_type") or "image/png",
                        )
                    )
    usage = data.get("usage")
    error = None
    if data.get("errors"):
        error = "; ".join(str(e.get("message") or e) for e in data["errors"] if e)
    return Answer(
        interaction_id=data.get("id", ""),
        status=str(data.get("status") or "completed"),
        model=data.get("model"),
        agent=data.get("agent"),
        text="\n\n".join(texts),
        thoughts=tuple(thoughts),
        citations=tuple(citations.values()),
        images=tuple(images),
        usage=_usage(usage) if usage else None,
        error=error,
    )


def _usage(data: dict[str, Any]) -> Usage:
    return Usage(
        input_tokens=int(data.get("total_input_tokens") or 0),
        output_tokens=int(data.get("total_output_tokens") or 0),
        thought_tokens=int(data.get("total_thought_tokens") or 0),
        total_tokens=int(data.get("total_tokens") or 0),
    )


def to_update(event: Any) -> StreamUpdate | None:
    data = _dump(event)
    kind = data.get("event_type")
    event_id = data.get("event_id")
    if kind == "interaction.completed":
        return StreamUpdate("completed", event_id, status=(data.get("interaction") or {}).get("status"))
    if kind == "interaction.status_update":
        return StreamUpdate("status", event_id, status=data.get("status"))
    if kind == "error":
        error = data.get("error") or {}
        return StreamUpdate("error", event_id, text=str(error.get("message") or "stream error"))
    if kind == "step.delta":
        delta = data.get("delta") or {}
        if delta.get("type") == "thought_summary":
            content = delta.get("content") or {}
            text = content.get("text") if isinstance(content, dict) else None
            return StreamUpdate("progress", event_id, text=text or delta.get("text"))
    if kind == "step.start":
        step = data.get("step") or {}
        if step.get("type") == "thought":
            texts = [s.get("text") for s in step.get("summary") or [] if s.get("text")]
            if texts:
                return StreamUpdate("progress", event_id, text=texts[-1])
    if event_id is None:
        return None
    return StreamUpdate("other", event_id)


def translate(exc: BaseException, *, continuing: bool = False, research: bool = False) -> Exception:
    """Map an SDK exception to our error tree, with a message that says what to do next."""
    if isinstance(exc, errors.GeminiInteractionsError):
        return exc
    from google.genai import _interactions as gi

    if isinstance(exc, gi.APITimeoutError) or _is_transport(exc, "TimeoutException"):
        hint = " For long work use start_research, which runs in the background." if not research else ""
        return errors.UpstreamTimeout(f"Gemini did not answer in time.{hint} Try again in a moment.")
    if isinstance(exc, gi.APIConnectionError) or _is_transport(exc, "TransportError"):
        return errors.UpstreamUnavailable(
            "Could not reach the Gemini API (connection failed). Check the network or GOOGLE_GEMINI_BASE_URL, "
            "then try again."
        )
    if isinstance(exc, gi.APIStatusError):
        return _from_status(exc, continuing=continuing, research=research)
    if isinstance(exc, gi.APIError):
        return errors.UpstreamError(
            f"Gemini returned a response we could not read: {_message(exc).rstrip('.')}. Try again in a moment."
        )
    if isinstance(exc, (ValueError, TypeError)):
        return errors.InvalidInput(f"The request was not valid: {exc}")
    log.exception("unexpected error from the Gemini SDK", exc_info=exc)
    return errors.UpstreamError("Unexpected failure talking to Gemini; see the server log. Try again.")


def _is_transport(exc: BaseException, name: str) -> bool:
    """An httpx/httpx2 error raised while reading a streamed body (the SDK wraps only the request)."""
    return any(cls.__name__ == name and cls.__module__.startswith("httpx") for cls in type(exc).__mro__)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(exc, "message", "") or exc)


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None


def _from_status(exc: Any, *, continuing: bool, research: bool) -> Exception:
    code = int(getattr(exc, "status_code", 0) or 0)
    upstream = _message(exc)
    key_invalid = "API_KEY_INVALID" in str(getattr(exc, "body", "")) or "API key not valid" in upstream
    if code in (401, 403) or key_invalid:
        return errors.AuthenticationFailed(
            f"Gemini rejected the API key ({upstream}). {errors.KEY_HELP}", status_code=code
        )
    if code == 429:
        wait = _retry_after(exc)
        when = f"Retry after {wait:g} s." if wait is not None else "Wait a minute and retry."
        paid = " Deep Research needs a paid-tier key (the free tier is refused)." if research else ""
        return errors.RateLimited(f"Gemini rate limit or quota reached. {when}{paid}", retry_after=wait)
    if code == 404 and continuing:
        return errors.InteractionExpired(
            "That interaction id is unknown to Gemini: stored interactions expire (55 days on a paid key, "
            "1 day on the free tier), and ones made with store=false are never kept. Start a new thread with ask.",
            status_code=404,
        )
    if code == 404:
        return errors.NotFound(f"Gemini does not know that interaction ({upstream}).")
    if code >= 500:
        return errors.UpstreamUnavailable(
            f"Gemini had a server error ({code}: {upstream}). Try again in a moment.", status_code=code
        )
    return errors.UpstreamRejected(f"Gemini refused the request ({code}: {upstream}).", status_code=code)
