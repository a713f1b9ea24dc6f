"""Regenerate the README's two screenshots of the MCP App view (a script, not a test).

    uv run python -m scripts.screenshots            # → docs/images/research-view.png, docs/images/image-view.png

It runs what the browser tests run (tests/support/browser.py): our server over stdio on the emulator, the view
in headless Chromium inside the ext-apps test host. Needs Chromium and node with `npm ci --prefix apps`.
The PNGs are reduced to a 128-colour palette to keep them small.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
from pathlib import Path

from PIL import Image

from server.emulator import EmulatorConfig, run_emulator_in_thread
from tests.support.browser import Missing, build_assets, stdio_apps_client, view_host
from tests.support.env import REPO, host_env

OUT = REPO / "docs" / "images"
WIDTH = 880
RESEARCH_HEIGHT = 940
RESEARCH_PROMPT = "The state of fusion power in 2030: who is closest to a grid-connected plant?"
EMULATOR = EmulatorConfig(
    research_seconds=2, research_steps=2, report_chars=9000, research_visualization=True
)
TIMEOUT_MS = 60_000
SETTLE_MS = 800


def save_small(png: bytes, path: Path) -> int:
    """A palette PNG: screenshots of a UI lose nothing visible at 128 colours and shrink about fourfold."""
    with Image.open(io.BytesIO(png)) as shot:
        small = shot.convert("RGB").quantize(
            colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    small.save(path, format="PNG", optimize=True)
    return path.stat().st_size


async def capture(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="screenshots-") as scratch:
        tmp = Path(scratch)
        assets = build_assets(tmp / "build")
        emulator = run_emulator_in_thread(EMULATOR, host="127.0.0.1", port=0)
        env = host_env(
            GEMINI_API_KEY="screenshots",
            GOOGLE_GEMINI_BASE_URL=emulator.url,
            GEMINI_INTERACTIONS_DATA_DIR=str(tmp / "data"),
            GEMINI_INTERACTIONS_POLL_SECONDS="0.05",
        )
        try:
            async with (
                stdio_apps_client(env, tmp / "server.log") as client,
                view_host(client, assets, width=WIDTH, height=RESEARCH_HEIGHT) as host,
            ):
                frame = (await host.show("start_research", {"prompt": RESEARCH_PROMPT})).frame
                await frame.locator(".charts img").wait_for(timeout=TIMEOUT_MS)
                await host.page.wait_for_timeout(SETTLE_MS)
                shot = await host.page.screenshot(
                    clip={"x": 0, "y": 0, "width": WIDTH, "height": RESEARCH_HEIGHT}
                )
                size = save_small(shot, out / "research-view.png")
                print(f"research-view.png: {size // 1024} KiB")

                frame = (
                    await host.show("generate_image", {"prompt": "a red fox in the snow, watercolour"})
                ).frame
                await frame.locator("figure.image img[data-full='true']").wait_for(timeout=TIMEOUT_MS)
                await frame.get_by_label("How to refine the image").fill(
                    "make it dusk, with a low orange sun"
                )
                await frame.get_by_role("button", name="Refine").click()
                await frame.locator(".versions li").nth(1).wait_for(timeout=TIMEOUT_MS)
                await frame.locator("figure.image img[data-full='true']").wait_for(timeout=TIMEOUT_MS)
                # the host resizes the frame to the view's new height
                await host.page.wait_for_timeout(SETTLE_MS)
                shot = await host.page.locator("iframe").screenshot()
                size = save_small(shot, out / "image-view.png")
                print(f"image-view.png: {size // 1024} KiB")
        finally:
            emulator.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the PNGs (default {OUT})")
    args = parser.parse_args()
    try:
        asyncio.run(capture(args.out))
    except Missing as missing:
        print(f"screenshots: {missing}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
