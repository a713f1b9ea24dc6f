"""``ask`` and ``continue_thread``: one question to Gemini, as a new conversation or as a follow-up on any earlier
interaction (an answer, an image, a finished research run). Both attach the files, ask the core and turn a
failed answer into a ToolError the same way (``answer``)."""

from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from server.core import Attachment, ThinkingLevel, ToolName, load_files

from ..errors import tool_errors
from ..identity import viewer
from ..inputs import (
    Attachments,
    InteractionId,
    ModelArg,
    Prompt,
    ResponseSchema,
    SystemInstruction,
    ThinkingLevelArg,
    Tools,
)
from ..lifespan import AppState, Ctx
from ..results import AskResult, ask_result
from .spec import ToolSpec


async def load_attachments(state: AppState, paths: list[str]) -> list[Attachment]:
    """The files to send: stdio callers may name any file, HTTP callers only files under the file roots."""
    if not paths:
        return []
    roots = None if state.transport == "stdio" else state.settings.file_root_paths()
    return await anyio.to_thread.run_sync(lambda: load_files(paths, roots=roots))


async def answer(
    ctx: Ctx,
    tool: str,
    prompt: str,
    *,
    previous: str | None,
    model: str | None,
    system_instruction: str | None,
    tools: list[ToolName] | None,
    response_schema: dict[str, Any] | None,
    attachments: list[str] | None,
    thinking_level: ThinkingLevel | None,
) -> AskResult:
    state = ctx.request_context.lifespan_context
    with tool_errors(tool, previous):
        files = await load_attachments(state, attachments or [])
        result = await state.core.ask(
            prompt,
            model=model,
            system_instruction=system_instruction,
            tools=tuple(tools or ()),
            response_schema=response_schema,
            attachments=files,
            previous_interaction_id=previous,
            thinking_level=thinking_level,
            caller=viewer(),
        )
        if result.status == "failed" or (result.error and not result.text):
            raise ToolError(
                f"Gemini could not answer: {result.error or 'the interaction failed'}. Try again."
            )
        return ask_result(result)


async def ask(
    prompt: Prompt,
    ctx: Ctx,
    model: ModelArg = None,
    system_instruction: SystemInstruction = None,
    tools: Tools = None,
    response_schema: ResponseSchema = None,
    attachments: Attachments = None,
    thinking_level: ThinkingLevelArg = None,
) -> AskResult:
    """Ask Gemini a question and get the whole answer (a long one arrives in parts; they are joined, and
    `incomplete` says if it still stopped early). Starts a new conversation; its interaction_id lets you
    follow up with continue_thread. For work that takes minutes (in-depth reports), use start_research."""
    return await answer(
        ctx,
        "ask",
        prompt,
        previous=None,
        model=model,
        system_instruction=system_instruction,
        tools=tools,
        response_schema=response_schema,
        attachments=attachments,
        thinking_level=thinking_level,
    )


ASK = ToolSpec(
    ask,
    title="Ask Gemini",
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=False, open_world_hint=True),
)


async def continue_thread(
    interaction_id: InteractionId,
    prompt: Prompt,
    ctx: Ctx,
    model: ModelArg = None,
    system_instruction: SystemInstruction = None,
    tools: Tools = None,
    response_schema: ResponseSchema = None,
    attachments: Attachments = None,
    thinking_level: ThinkingLevelArg = None,
) -> AskResult:
    """Follow up on an earlier interaction: Gemini remembers that conversation. Works from any earlier
    interaction id of yours: an answer (ask/continue_thread), an image (generate_image) or a finished research
    job. Gemini keeps interactions 55 days on a paid key, 1 day on the free tier."""
    if not interaction_id.strip():  # blank would silently start a new conversation
        raise ToolError(
            "interaction_id is empty: pass the interaction_id that ask, generate_image or start_research "
            "returned, or use ask to start a new conversation."
        )
    return await answer(
        ctx,
        "continue_thread",
        prompt,
        previous=interaction_id,
        model=model,
        system_instruction=system_instruction,
        tools=tools,
        response_schema=response_schema,
        attachments=attachments,
        thinking_level=thinking_level,
    )


CONTINUE_THREAD = ToolSpec(
    continue_thread,
    title="Continue a Gemini conversation",
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=False, open_world_hint=True),
)
