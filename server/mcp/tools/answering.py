"""What ask and continue_thread share: attach the files, ask the core, turn a failed answer into a ToolError."""

from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from server.core import Attachment, ThinkingLevel, ToolName, load_files

from ..errors import tool_errors
from ..lifespan import AppState, Ctx
from ..results import AskResult, ask_result


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
        )
        if result.status == "failed" or (result.error and not result.text):
            raise ToolError(
                f"Gemini could not answer: {result.error or 'the interaction failed'}. Try again."
            )
        return ask_result(result)
