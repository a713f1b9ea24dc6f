"""The MCP App view in a real browser: headless Chromium shows the test host page (ext-apps ``AppBridge``), which
frames our view and relays its requests to our server over stdio, on the emulator.

Run them with ``uv run pytest --browser tests/browser`` (``.ci/run`` does); they need Chromium and node.
"""

from __future__ import annotations

import pytest
from mcp import Client
from playwright.async_api import expect

from server.emulator import EmulatorHandle
from tests.support.browser import Assets, view_host
from tests.support.mcp import start_research, wait_until_finished

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

SLOW = 45_000  # ms: generous, for a loaded machine


async def test_research_view_shows_progress_then_the_whole_report(
    apps_client: Client, assets: Assets
) -> None:
    prompt = (
        "Fusion power in 2030 [emulator:research_seconds=6] [emulator:research_steps=3] "
        "[emulator:report_chars=14000] [emulator:chart]"
    )
    async with view_host(apps_client, assets) as host:
        shown = await host.show("start_research", {"prompt": prompt})
        frame = shown.frame
        iid = shown.result.structured_content["interaction_id"]

        # While it works: status, elapsed time and the agent's latest thoughts, from research_status calls.
        await expect(frame.locator(".status")).to_have_text("Researching", timeout=SLOW)
        await expect(frame.locator(".elapsed")).to_contain_text("Running for")
        await expect(frame.locator(".notes li").first).not_to_be_empty(timeout=SLOW)
        await expect(frame.get_by_role("button", name="Cancel run")).to_be_visible()

        # Done: the whole report, read from research:// through the host and rendered from markdown.
        await expect(frame.locator(".status")).to_have_text("Completed", timeout=SLOW)
        report = frame.locator("article.report")
        await expect(report.locator("h1")).to_contain_text("research report", timeout=SLOW)
        await expect(report.locator("table th").first).to_have_text("Factor")
        await expect(report.locator("pre code").first).to_contain_text("growth")
        markdown = (await apps_client.read_resource(f"research://{iid}")).contents[0].text
        assert len(markdown) > 8000  # more than one research_status page, shown whole
        await expect(report.locator("h2").last).to_have_text("Sources")
        await expect(report.locator("ol").last.locator("a")).to_have_count(8)
        assert f"research://{iid}" in host.resource_reads()
        assert all(call.get("offset", 0) == 0 for call in host.tool_calls("research_status"))

        # Citations are links that open through the host; the table of contents lists the sections.
        cite = report.locator("a.cite").first
        await cite.click()
        assert (await host.opened_links())[-1] == await cite.get_attribute("href")
        assert (await host.opened_links())[-1].startswith("https://example.com/emulator/research/")
        toc = frame.locator("nav.toc a")
        assert await toc.count() >= 5
        await expect(toc.last).to_have_text("Charts")

        # The chart, a PNG resource the view read through the host (it may fetch nothing itself).
        chart = frame.locator(".charts img")
        await expect(chart).to_have_attribute("alt", "Chart 1", timeout=SLOW)
        assert (await chart.get_attribute("src") or "").startswith("data:image/png;base64,")
        assert await chart.evaluate("img => img.complete && img.naturalWidth > 0")
        assert f"research://{iid}/images/1" in host.resource_reads()

        # Copy as Markdown puts the report itself on the clipboard.
        await frame.get_by_role("button", name="Copy as Markdown").click()
        await expect(frame.get_by_role("button", name="Copied")).to_be_visible()
        assert await host.page.evaluate("navigator.clipboard.readText()") == markdown


async def test_report_html_runs_nothing(apps_client: Client, assets: Assets) -> None:
    iid = await start_research(
        apps_client, "Sanitisers [emulator:research_seconds=0.5] [emulator:html] [emulator:report_chars=2000]"
    )
    assert (await wait_until_finished(apps_client, iid))["status"] == "completed"
    markdown = (await apps_client.read_resource(f"research://{iid}")).contents[0].text
    assert "<script>" in markdown and "onerror=" in markdown  # the report really carries them

    async with view_host(apps_client, assets) as host:
        frame = (await host.show("research_status", {"interaction_id": iid})).frame
        report = frame.locator("article.report")
        await expect(report).to_contain_text("An interactive figure follows", timeout=SLOW)
        assert await report.locator("script").count() == 0
        handlers = await report.evaluate(
            "r => [...r.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
            ".filter(n => n.startsWith('on'))"
        )
        assert handlers == []
        assert await frame.locator("a[href^='javascript:']").count() == 0
        await host.page.wait_for_timeout(1000)  # time for anything that did get through to run
        assert await host.hostile_messages() == []


async def test_a_host_that_relays_no_resource_reads_still_shows_the_whole_report(
    apps_client: Client, assets: Assets
) -> None:
    iid = await start_research(
        apps_client, "Paging [emulator:research_seconds=0.5] [emulator:report_chars=60000]"
    )
    assert (await wait_until_finished(apps_client, iid))["status"] == "completed"
    async with view_host(apps_client, assets) as host:
        frame = (await host.show("research_status", {"interaction_id": iid}, proxies_resources=False)).frame
        await expect(frame.locator("article.report h2").last).to_have_text("Sources", timeout=SLOW)
        assert host.resource_reads() == []
        pages = [call for call in host.tool_calls("research_status") if call.get("max_chars") == 50000]
        assert [page["offset"] for page in pages] == [0, 50000]


async def test_cancel_in_the_view_cancels_upstream(
    apps_client: Client, assets: Assets, emulator: EmulatorHandle
) -> None:
    async with view_host(apps_client, assets) as host:
        shown = await host.show("start_research", {"prompt": "A run to cancel [emulator:stuck]"})
        frame = shown.frame
        iid = shown.result.structured_content["interaction_id"]
        await expect(frame.locator(".status")).to_have_text("Researching", timeout=SLOW)
        await frame.get_by_role("button", name="Cancel run").click()
        await frame.get_by_role("button", name="Stop the run").click()
        await expect(frame.locator(".status")).to_have_text("Cancelled", timeout=SLOW)
        assert host.tool_calls("cancel_research") == [{"interaction_id": iid}]
    assert iid in [record.interaction_id for record in emulator.emulator.stats.cancels]
    assert (await wait_until_finished(apps_client, iid))["status"] == "cancelled"


async def test_image_view_refines_and_shows_earlier_versions(apps_client: Client, assets: Assets) -> None:
    async with view_host(apps_client, assets) as host:
        shown = await host.show("generate_image", {"prompt": "a red fox in the snow"})
        frame = shown.frame
        first = shown.result.structured_content["interaction_id"]

        # The full image (read through the host), not the inline preview, and its prompt.
        image = frame.locator("figure.image img")
        await expect(image).to_have_attribute("data-full", "true", timeout=SLOW)
        assert await image.evaluate("img => img.naturalWidth") == 1024
        await expect(frame.locator("figure.image .prompt")).to_have_text("a red fox in the snow")

        # Refine it: generate_image with the interaction id, through the host.
        await frame.get_by_label("How to refine the image").fill("make it night")
        await frame.get_by_role("button", name="Refine").click()
        await expect(frame.locator(".versions li")).to_have_count(2, timeout=SLOW)
        await expect(frame.locator("figure.image .prompt")).to_have_text("make it night")
        await expect(image).to_have_attribute("data-full", "true", timeout=SLOW)
        refined = host.tool_calls("generate_image")
        assert refined == [{"prompt": "make it night", "interaction_id": first}]
        told = await host.model_context()
        second = told[-1]["content"][0]["text"].rsplit(" ", 1)[-1].rstrip(".")
        assert second != first

        # The model refines further; the new view walks the thread back to the first version.
        shown = await host.show("generate_image", {"prompt": "add a moon", "interaction_id": second})
        frame = shown.frame
        versions = frame.locator(".versions li")
        await expect(versions).to_have_count(3, timeout=SLOW)
        await expect(versions.nth(0)).to_contain_text("a red fox in the snow")
        await expect(versions.nth(1)).to_contain_text("make it night")
        await expect(versions.nth(2)).to_contain_text("add a moon")
        assert f"image://{first}" in host.resource_reads()


async def test_a_planned_run_shows_its_plan_then_runs_it_from_the_view(
    apps_client: Client, assets: Assets, emulator: EmulatorHandle
) -> None:
    prompt = "Heat pumps in cold climates [emulator:plan_seconds=0.2] [emulator:research_seconds=2]"
    async with view_host(apps_client, assets) as host:
        shown = await host.show("start_research", {"prompt": prompt, "plan_first": True})
        frame = shown.frame
        iid = shown.result.structured_content["interaction_id"]

        # The plan, read as the job's document, with nothing spent until it is run.
        await expect(frame.locator(".status")).to_have_text("Plan ready for review", timeout=SLOW)
        plan = frame.locator("article.report.plan")
        await expect(plan).to_contain_text("Heat pumps in cold climates", timeout=SLOW)
        await expect(frame.get_by_role("button", name="Cancel run")).to_have_count(0)
        assert not [b for b in emulator.emulator.received_bodies() if b.get("previous_interaction_id") == iid]

        # Run it: approve_research through the host, then progress and the report in the same view.
        await frame.get_by_role("button", name="Run it").click()
        await expect(frame.locator(".status")).to_have_text("Completed", timeout=SLOW)
        await expect(frame.locator("article.report h2").last).to_have_text("Sources", timeout=SLOW)
        await expect(frame.locator("article.report.plan")).to_have_count(0)
        assert host.tool_calls("approve_research") == [{"interaction_id": iid}]
    runs = [b for b in emulator.emulator.received_bodies() if b.get("previous_interaction_id") == iid]
    assert len(runs) == 1
    assert (await wait_until_finished(apps_client, iid))["status"] == "completed"


async def test_a_plan_cancelled_in_the_view_never_runs(
    apps_client: Client, assets: Assets, emulator: EmulatorHandle
) -> None:
    prompt = "Tidal power [emulator:plan_seconds=0.2] [emulator:research_seconds=2]"
    async with view_host(apps_client, assets) as host:
        shown = await host.show("start_research", {"prompt": prompt, "plan_first": True})
        frame = shown.frame
        iid = shown.result.structured_content["interaction_id"]
        await expect(frame.locator(".status")).to_have_text("Plan ready for review", timeout=SLOW)
        await frame.get_by_role("button", name="Cancel", exact=True).click()
        await expect(frame.locator(".status")).to_have_text("Cancelled", timeout=SLOW)
        assert host.tool_calls("cancel_research") == [{"interaction_id": iid}]
        assert host.tool_calls("approve_research") == []
    assert not [b for b in emulator.emulator.received_bodies() if b.get("previous_interaction_id") == iid]
