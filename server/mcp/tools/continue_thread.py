"""``continue_thread``: a follow-up on any earlier interaction (an answer, an image, a finished research run)."""

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

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
from ..lifespan import Ctx
from ..results import AskResult
from .answering import answer
from .spec import ToolSpec


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
    interaction id: an answer (ask/continue_thread), an image (generate_image) or a finished research job.
    Gemini keeps interactions 55 days on a paid key, 1 day on the free tier."""
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


TOOL = ToolSpec(
    continue_thread,
    title="Continue a Gemini conversation",
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=False, open_world_hint=True),
)
