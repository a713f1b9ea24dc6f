"""A finished run's report as Slack parts: what to post (always the same parts for a run, so that they can be
matched after a crash), posting one part, and finding the parts an earlier attempt already posted in the thread.

Part 0 is the summary message, part 1 the report as a ``.md`` file, then any charts the run drew. Each message
part carries ``metadata`` with the interaction id and part number, and each file part has a name unique to
the run: that is how ``already_posted`` recognises them.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slack_sdk.web.async_client import AsyncWebClient

from .markdown import markdown_message, truncate
from .render import REPORT_EVENT_TYPE, report_file_name, report_metadata, report_summary

if TYPE_CHECKING:
    from server.core import Core, ResearchJob

log = logging.getLogger(__name__)

REPLIES_PAGES = 10


@dataclass(frozen=True, slots=True)
class Part:
    number: int
    text: str = ""  # a message part: its markdown
    filename: str = ""  # a file part: its name (unique to the run), bytes and title
    data: bytes = b""
    title: str = ""

    @property
    def is_file(self) -> bool:
        return bool(self.filename)


async def report_parts(core: Core, job: ResearchJob) -> list[Part]:
    """What to post, always the same for a finished job (so that parts can be matched after a crash).

    The report and charts come from this replica's data dir, or from the database when another replica
    finished the run.
    """
    research = core.research
    report = await asyncio.to_thread(research.read_report, job)
    charts = await research.report_images(job)
    if len(charts) != len(job.image_paths):
        log.warning(
            "%d of the %d charts of %s were found", len(charts), len(job.image_paths), job.interaction_id
        )
    parts = [Part(0, text=report_summary(job, report))]
    topic = truncate(" ".join(job.prompt.split()), 80)
    stem = report_file_name(job.interaction_id).removesuffix(".md")
    if report.strip():
        parts.append(Part(1, filename=f"{stem}.md", data=report.encode("utf-8"), title=f"Report: {topic}"))
    for n, chart in enumerate(charts, 1):
        suffix = mimetypes.guess_extension(chart.mime_type) or ".png"
        name = f"{stem}-{n}{suffix}"
        parts.append(Part(1 + n, filename=name, data=chart.data, title=f"Chart {n}: {topic}"))
    return parts


async def post_part(
    client: AsyncWebClient, interaction_id: str, part: Part, channel: str, thread_ts: str
) -> str:
    """Post one part; return its message ts or file id."""
    if not part.is_file:
        response = await client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            metadata=report_metadata(interaction_id, part.number),
            **markdown_message(part.text),
        )
        return str(response["ts"])
    response = await client.files_upload_v2(
        channel=channel,
        thread_ts=thread_ts,
        file=part.data,
        filename=part.filename,
        title=part.title,
        alt_txt=part.title if not part.filename.endswith(".md") else None,
    )
    files = response.get("files") or [{}]
    return str(files[0].get("id") or "uploaded")


async def already_posted(
    client: AsyncWebClient, interaction_id: str, channel: str, thread_ts: str, parts: list[Part]
) -> dict[str, str]:
    """Parts an earlier attempt posted into the thread (by metadata, or by file name)."""
    by_name = {p.filename: str(p.number) for p in parts if p.is_file}
    found: dict[str, str] = {}
    cursor: str | None = None
    for _ in range(REPLIES_PAGES):
        response = await client.conversations_replies(
            channel=channel, ts=thread_ts, include_all_metadata=True, limit=200, cursor=cursor
        )
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == REPORT_EVENT_TYPE
                and payload.get("interaction_id") == interaction_id
                and "part" in payload
            ):
                found[str(payload["part"])] = str(message.get("ts"))
            for file in message.get("files") or []:
                number = by_name.get(file.get("name", ""))
                if number is not None:
                    found[number] = str(file.get("id"))
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return found
