"""``ask``: one question to Gemini, a new conversation."""

from mcp.types import ToolAnnotations

from ..inputs import Attachments, ModelArg, Prompt, ResponseSchema, SystemInstruction, ThinkingLevelArg, Tools
from ..lifespan import Ctx
from ..results import AskResult
from .answering import answer
from .spec import ToolSpec


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


TOOL = ToolSpec(
    ask,
    title="Ask Gemini",
    annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=False, open_world_hint=True),
)
