"""The MCP App views, as MCP sees them (the browser tests in tests/browser show them in Chromium): the ui://
resources and their policy, the tools that name them, what a host that shows apps gets on top, what every other
client still gets, and the resources the views read (research charts, generated images and their thread)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from typing import Any

import pytest
from mcp import MCPError
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import ImageContent, ResourceLink, TextContent
from PIL import Image

from server.mcp.apps import CHARTS_META, IMAGE_VIEW, RESEARCH_VIEW
from tests.support.browser import SHIPPED_VIEW, apps_extensions
from tests.support.mcp import connect, start_research, wait_until_finished

pytestmark = pytest.mark.anyio

CHART_RUN = "Tidal power [emulator:research_seconds=0.3] [emulator:chart]"


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        return image.size


async def test_views_are_resources_the_visual_tools_name(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        resources = {str(r.uri): r for r in (await client.list_resources()).resources}
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        read = await client.read_resource(RESEARCH_VIEW)
        extensions = client.server_capabilities.extensions or {}
    assert set(resources) == {RESEARCH_VIEW, IMAGE_VIEW}
    assert {r.mime_type for r in resources.values()} == {APP_MIME_TYPE}
    if mode != "legacy":
        assert EXTENSION_ID in extensions
    views = {name: (tool.meta or {}).get("ui", {}).get("resourceUri") for name, tool in tools.items()}
    assert views == {
        "ask": None,
        "continue_thread": None,
        "generate_image": IMAGE_VIEW,
        "start_research": RESEARCH_VIEW,
        "approve_research": RESEARCH_VIEW,
        "research_status": RESEARCH_VIEW,
        "cancel_research": None,
        "list_research": None,
    }
    (page,) = read.contents
    assert page.mime_type == APP_MIME_TYPE
    assert page.text == SHIPPED_VIEW.read_text(encoding="utf-8")
    ui = (page.meta or {})["ui"]
    assert ui["csp"] == {}  # no outside domain at all: the view reaches nothing but the host
    assert ui["permissions"] == {"clipboardWrite": {}}


def test_the_view_page_runs_only_its_own_script_and_reaches_nothing() -> None:
    page = SHIPPED_VIEW.read_text(encoding="utf-8")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert policy is not None
    rules = dict(rule.strip().split(" ", 1) for rule in policy.group(1).split(";"))
    (script,) = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    (style,) = re.findall(r"<style>(.*?)</style>", page, flags=re.S)

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert rules["default-src"] == "'none'"
    assert rules["script-src"] == sha(script)  # no 'unsafe-inline', no 'unsafe-eval', no host
    assert rules["style-src"] == sha(style)
    assert rules["img-src"] == "data:"
    assert rules["connect-src"] == rules["frame-src"] == rules["base-uri"] == rules["form-action"] == "'none'"
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", page.replace(script, ""))


async def test_other_clients_get_todays_results_and_apps_hosts_get_the_charts_too(
    server: Any, mode: str
) -> None:
    async with connect(server, mode) as plain, connect(server, mode, extensions=apps_extensions()) as apps:
        iid = await start_research(plain, CHART_RUN)
        await wait_until_finished(plain, iid)
        seen = await plain.call_tool("research_status", {"interaction_id": iid})
        shown = await apps.call_tool("research_status", {"interaction_id": iid})
        image = await plain.call_tool("generate_image", {"prompt": "a lighthouse"})
    assert CHARTS_META not in (seen.meta or {})  # exactly the result it always was
    assert [type(block) for block in seen.content] == [TextContent]
    assert shown.structured_content == seen.structured_content
    assert shown.content == seen.content
    assert (shown.meta or {})[CHARTS_META] == [f"research://{iid}/images/1"]
    assert [type(block) for block in image.content] == [TextContent, ImageContent, ResourceLink]


async def test_a_reports_charts_are_png_resources(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        iid = await start_research(client, CHART_RUN)
        assert (await wait_until_finished(client, iid))["status"] == "completed"
        (chart,) = (await client.read_resource(f"research://{iid}/images/1")).contents
        with pytest.raises(
            MCPError, match=rf"ask for research://{iid}/images/1 to research://{iid}/images/1"
        ):
            await client.read_resource(f"research://{iid}/images/2")
        with pytest.raises(MCPError, match="No research job nope here"):
            await client.read_resource("research://nope/images/1")
    assert chart.mime_type == "image/png"
    width, height = png_size(base64.b64decode(chart.blob))
    assert width > 100 and height > 100


async def test_a_generated_image_and_its_thread_are_resources(server: Any, mode: str) -> None:
    async with connect(server, mode) as client:
        first = await client.call_tool("generate_image", {"prompt": "a lighthouse at dawn"})
        v1 = first.structured_content["interaction_id"]
        second = await client.call_tool("generate_image", {"prompt": "add fog", "interaction_id": v1})
        v2 = second.structured_content["interaction_id"]
        about = json.loads((await client.read_resource(f"image://{v2}")).contents[0].text)
        earlier = json.loads((await client.read_resource(f"image://{v1}")).contents[0].text)
        (full,) = (await client.read_resource(f"image://{v2}/1")).contents
        with pytest.raises(MCPError, match="has 1 of them"):
            await client.read_resource(f"image://{v2}/2")
        with pytest.raises(MCPError, match="Gemini has no interaction v1_unknown"):
            await client.read_resource("image://v1_unknown")
    assert about == {
        "interaction_id": v2,
        "previous_interaction_id": v1,
        "prompt": "add fog",
        "text": about["text"],
        "model": about["model"],
        "images": [f"image://{v2}/1"],
    }
    assert earlier["prompt"] == "a lighthouse at dawn" and earlier["previous_interaction_id"] is None
    assert full.mime_type == "image/png"
    assert png_size(base64.b64decode(full.blob)) == (1024, 1024)  # the full image, not the inline preview
