"""An MCP Apps host in headless Chromium, for the browser tests (``tests/browser``) and ``scripts/screenshots.py``.

The page is ``apps/test-host`` (the ext-apps ``AppBridge``, built by ``apps/build.mjs``). It frames our view in a
sandboxed iframe and relays every request the view makes (``tools/call``, ``resources/read``) to
``window.mcpRequest``, which this module answers with a real MCP client connected to our server: the view sees
exactly what a host that proxies to the server would give it.

    async with view_host(client, assets) as host:
        frame = await host.show("start_research", {"prompt": "…"})
        await frame.get_by_text("Completed").wait_for()
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp import Client, StdioServerParameters
from mcp.client.extension import ClientExtension, advertise
from mcp.client.stdio import stdio_client
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from .env import REPO
from .mcp import server_command

if TYPE_CHECKING:
    from mcp.types import CallToolResult
    from playwright.async_api import FrameLocator, Page

APPS = REPO / "apps"
SHIPPED_VIEW = REPO / "server" / "mcp" / "views" / "app.html"
BUILD_SECONDS = 120


class Missing(Exception):
    """Chromium, node or the view's npm packages are not installed; the message says how to get them."""


@dataclass(frozen=True)
class Assets:
    chromium: str
    view: Path  # a fresh build of the view (compared with the shipped one)
    host_page: Path


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise Missing(
        "Chromium is not installed: apt-get install -y chromium (Debian's package; never `playwright install`)."
    )


def build_assets(out: Path) -> Assets:
    """Build the view and the test host page into ``out`` with the repository's own build (``apps/build.mjs``)."""
    chromium = find_chromium()
    node = shutil.which("node")
    if node is None:
        raise Missing("node is not installed: apt-get install -y nodejs npm, then npm ci --prefix apps.")
    if not (APPS / "node_modules" / "@modelcontextprotocol" / "ext-apps").is_dir():
        raise Missing("The view's npm packages are not installed: run `npm ci --prefix apps`.")
    done = subprocess.run(
        [node, str(APPS / "build.mjs"), "--views", str(out / "views"), "--host", str(out / "host")],
        cwd=APPS,
        capture_output=True,
        text=True,
        timeout=BUILD_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"apps/build.mjs failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return Assets(
        chromium=chromium, view=out / "views" / "app.html", host_page=out / "host" / "test-host.html"
    )


def _wire(model: Any) -> dict[str, Any]:
    """A result as it travels on the wire (``_meta``, ``structuredContent``, …)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class Shown:
    frame: FrameLocator  # the view
    result: CallToolResult  # what the tool returned (and the view was given)


@dataclass
class ViewHost:
    """The test host page, with the MCP client that answers its view."""

    page: Page
    client: Client
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def relay(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.requests.append((method, params))
        if method == "tools/call":
            return _wire(await self.client.call_tool(params["name"], params.get("arguments") or {}))
        if method == "resources/read":
            return _wire(await self.client.read_resource(params["uri"]))
        raise ValueError(f"the test host does not relay {method}")

    def tool_calls(self, name: str) -> list[dict[str, Any]]:
        return [p.get("arguments") or {} for m, p in self.requests if m == "tools/call" and p["name"] == name]

    def resource_reads(self) -> list[str]:
        return [p["uri"] for m, p in self.requests if m == "resources/read"]

    async def show(
        self,
        tool_name: str,
        arguments: dict[str, Any],
        *,
        theme: str = "light",
        proxies_resources: bool = True,
    ) -> Shown:
        """Call ``tool_name`` as a host would, then show its result in the view the tool names (``_meta.ui``).

        ``proxies_resources=False``: a host that relays tool calls but not resource reads (no ``serverResources``).
        """
        tools = {tool.name: tool for tool in (await self.client.list_tools()).tools}
        tool = tools[tool_name]
        uri = (tool.meta or {}).get("ui", {}).get("resourceUri")
        if not uri:
            raise AssertionError(f"{tool_name} names no view (_meta.ui.resourceUri)")
        resource = (await self.client.read_resource(uri)).contents[0]
        html = getattr(resource, "text", None)
        if html is None:
            raise AssertionError(f"{uri} is not a text resource")
        permissions = ((resource.meta or {}).get("ui") or {}).get("permissions")
        result = await self.client.call_tool(tool_name, arguments)
        options: dict[str, Any] = {
            "html": html,
            "tool": _wire(tool),
            "input": arguments,
            "result": _wire(result),
            "permissions": permissions,
            "hostContext": {"theme": theme},
        }
        if not proxies_resources:
            options["capabilities"] = {"openLinks": {}, "serverTools": {}, "logging": {}}
        await self.page.evaluate("(options) => window.testHost.mount(options)", options)
        return Shown(frame=self.page.frame_locator("iframe"), result=result)

    async def opened_links(self) -> list[str]:
        return await self.page.evaluate("window.testHost.log.openedLinks")

    async def model_context(self) -> list[dict[str, Any]]:
        return await self.page.evaluate("window.testHost.log.modelContext")

    async def hostile_messages(self) -> list[Any]:
        """Messages a hostile report tried to post to the host (``{pwned: …}``): none, when nothing ran."""
        return await self.page.evaluate("window.testHost.log.pwned")


def apps_extensions() -> list[ClientExtension]:
    """What an MCP Apps host advertises when it connects: the extension, with the view MIME type it can show."""
    return [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]


@asynccontextmanager
async def stdio_apps_client(env: dict[str, str], errlog: Path) -> AsyncIterator[Client]:
    """Our server as a subprocess over stdio (``python -m server``), connected as an MCP Apps host connects."""
    command, *args = server_command()
    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(REPO))
    with errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err), extensions=apps_extensions()) as client:
            yield client


@asynccontextmanager
async def view_host(
    client: Client, assets: Assets, *, width: int = 960, height: int = 760
) -> AsyncIterator[ViewHost]:
    """Chromium (headless, Debian's package) showing the test host page; closed on the way out."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=assets.chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")},
        )
        try:
            context = await browser.new_context(
                viewport={"width": width, "height": height}, permissions=["clipboard-read", "clipboard-write"]
            )
            page = await context.new_page()
            host = ViewHost(page=page, client=client)
            await page.expose_function("mcpRequest", host.relay)
            await page.goto(assets.host_page.as_uri())
            yield host
        finally:
            await browser.close()
