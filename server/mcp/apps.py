"""The MCP App views (extension ``io.modelcontextprotocol/ui``): research runs and generated images, shown by hosts
that negotiate the extension. Other clients get exactly the tools' usual text and structured results.

One page serves both views: ``apps/`` builds it (``npm run build --prefix apps``) into ``views/app.html``, which
ships in this package, so nobody needs node to run the server. The page fetches nothing: whatever it shows it
reads through the host (``research_status``, ``research://{id}``, ``research://{id}/images/{n}``,
``image://{id}``, ``image://{id}/{n}``), and its own content-security policy allows no network at all.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from mcp.server.apps import Apps, ResourceCsp, ResourcePermissions

RESEARCH_VIEW = "ui://gemini-interactions/research.html"
IMAGE_VIEW = "ui://gemini-interactions/image.html"
# research_status results carry the report's chart resources under this _meta key, for hosts that show apps
# (the view reads them through the host); other clients' results stay as they were.
CHARTS_META = "gemini-interactions/charts"


def view_html() -> str:
    return (files(__package__) / "views" / "app.html").read_text(encoding="utf-8")


def ui_meta(view: str) -> dict[str, Any]:
    """A tool's ``_meta`` naming the view that shows its results (what ``Apps.tool`` stamps)."""
    return {"ui": {"resourceUri": view}}


def apps_extension() -> Apps:
    """The extension with the two view resources; the tools name them with ``ui_meta``."""
    apps = Apps()
    html = view_html()
    shared: dict[str, Any] = {
        "csp": ResourceCsp(),  # no domains: the view reaches nothing outside the host
        "permissions": ResourcePermissions(clipboard_write={}),  # "Copy as Markdown"
        "prefers_border": True,
    }
    apps.add_html_resource(
        RESEARCH_VIEW,
        html,
        name="research_view",
        title="Deep Research run",
        description="Progress of a research run, then its whole report with a table of contents and charts.",
        **shared,
    )
    apps.add_html_resource(
        IMAGE_VIEW,
        html,
        name="image_view",
        title="Generated image",
        description="The full image, its prompt, a box to refine it, and the earlier versions of its thread.",
        **shared,
    )
    return apps


def charts_meta(interaction_id: str, count: int) -> dict[str, Any]:
    """The ``_meta`` of a research_status result for the view: the report's charts as resources."""
    return {CHARTS_META: [f"research://{interaction_id}/images/{n}" for n in range(1, count + 1)]}
