"""The ``image://`` resources: a generate_image interaction as Gemini keeps it, for the image view's full-size
image and the earlier versions of its thread.

    image://{interaction_id}        JSON: prompt, the interaction it refined (previous_interaction_id), images
    image://{interaction_id}/{n}    image n (from 1), full size, as PNG

Each read is one Gemini read of the interaction (no tokens are spent), through ``core.image_interaction``,
and only of the caller's own interactions: another owner's id answers as an unknown one.
"""

import json
from typing import TYPE_CHECKING

import anyio
from mcp.server import MCPServer

from server.core import as_png

from .errors import nth, resource_errors
from .identity import viewer
from .lifespan import AppState, Ctx

if TYPE_CHECKING:
    from server.core import Answer

IMAGE_PREFIX = "image://"


def image_uri(interaction_id: str, n: int | None = None) -> str:
    return f"{IMAGE_PREFIX}{interaction_id}" + (f"/{n}" if n is not None else "")


async def _interaction(interaction_id: str, uri: str, ctx: Ctx) -> "Answer":
    missing = (
        f"Gemini has no interaction {interaction_id}: the id is wrong, or older than Gemini keeps interactions "
        "(55 days on a paid key, 1 day on the free tier)."
    )
    with resource_errors(uri, missing=missing):
        return await ctx.request_context.lifespan_context.core.image_interaction(
            interaction_id, viewer=viewer()
        )


async def image_version(interaction_id: str, ctx: Ctx) -> str:
    answer = await _interaction(interaction_id, image_uri(interaction_id), ctx)
    return json.dumps(
        {
            "interaction_id": answer.interaction_id or interaction_id,
            "previous_interaction_id": answer.previous_interaction_id,
            "prompt": answer.prompt,
            "text": answer.text.strip(),
            "model": answer.model,
            "images": [image_uri(interaction_id, n) for n in range(1, len(answer.images) + 1)],
        }
    )


async def image_file(interaction_id: str, n: str, ctx: Ctx) -> bytes:
    answer = await _interaction(interaction_id, f"{image_uri(interaction_id)}/{n}", ctx)
    image = nth(
        answer.images,
        n,
        uri_prefix=f"{image_uri(interaction_id)}/",
        what=f"Interaction {interaction_id} (images)",
    )
    return await anyio.to_thread.run_sync(as_png, image)


def register(server: MCPServer[AppState]) -> None:
    server.resource(
        f"{IMAGE_PREFIX}{{interaction_id}}",
        name="image_version",
        title="Generated image: prompt and thread",
        description="What generate_image was asked in this interaction, the interaction it refined "
        "(previous_interaction_id) and its images (image://{interaction_id}/{n}), as JSON.",
        mime_type="application/json",
    )(image_version)
    server.resource(
        f"{IMAGE_PREFIX}{{interaction_id}}/{{n}}",
        name="image_file",
        title="Generated image",
        description="Image n (1, 2, …) of a generate_image interaction, full size, as PNG.",
        mime_type="image/png",
    )(image_file)
