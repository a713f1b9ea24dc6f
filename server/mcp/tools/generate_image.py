"""``generate_image``: draw an image, or refine an earlier one; the file is saved, a preview sent inline."""

import logging
from pathlib import Path
from typing import Annotated

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations

from server.core import preview

from ..apps import IMAGE_VIEW
from ..errors import tool_errors
from ..identity import viewer
from ..inputs import AspectRatioArg, ImageModelArg, ImagePrompt, RefineId
from ..lifespan import Ctx
from ..results import ImageResult, image_call_result
from .spec import ToolSpec

log = logging.getLogger("server.mcp")


def previews(paths: list[Path]) -> list[tuple[bytes, str] | None]:
    """Small inline versions of the saved images (Pillow, in a worker thread)."""
    out: list[tuple[bytes, str] | None] = []
    for path in paths:
        try:
            out.append(preview(path.read_bytes()))
        except Exception:  # the link to the full file still works
            log.warning("could not make a preview of %s", path, exc_info=True)
            out.append(None)
    return out


async def generate_image(
    prompt: ImagePrompt,
    ctx: Ctx,
    model: ImageModelArg = None,
    aspect_ratio: AspectRatioArg = None,
    interaction_id: RefineId = None,
) -> Annotated[CallToolResult, ImageResult]:
    """Generate an image with Gemini (or edit an earlier one: pass its interaction_id). The full-size
    PNG is saved on the server's machine (path and file:// link returned); a small preview is inline."""
    core = ctx.request_context.lifespan_context.core
    with tool_errors("generate_image", interaction_id):
        result = await core.generate_image(
            prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            previous_interaction_id=interaction_id,
            caller=viewer(),
        )
        said = result.answer.text.strip()
        if not result.files:
            reply = f' The model replied: "{said[:500]}"' if said else ""
            raise ToolError(
                f"Gemini returned no image for this prompt.{reply} Rephrase it as a concrete visual "
                "description (subject, style, setting) and try again."
            )
        shown = await anyio.to_thread.run_sync(previews, [Path(f.path) for f in result.files])
    return image_call_result(result, shown)


TOOL = ToolSpec(
    generate_image,
    title="Generate an image",
    annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True),
    view=IMAGE_VIEW,
)
