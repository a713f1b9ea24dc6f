"""Report files: a finished run's report and charts in the data dir, and reading them back.

Each replica keeps its own copy under ``reports_dir`` for people who look there; the store keeps the
authoritative copy, so a replica that did not finish a run still answers with its report.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from .. import images
from ..domain import Answer, GeneratedImage, ResearchJob
from ..private_files import private_dir, write_private

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store import Store

log = logging.getLogger("server.core.research")

REPORT_FETCH_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class SavedOutputs:
    report: str | None  # the markdown (with its sources), None when the run wrote none
    report_path: str | None
    image_paths: list[str]


class ReportFiles:
    def __init__(self, settings: Settings, store: Store) -> None:
        self._settings = settings
        self._store = store
        self._loop: asyncio.AbstractEventLoop | None = None  # where the store lives, for read()

    def bind_loop(self) -> None:
        """Remember the running loop: ``read`` called from a worker thread asks the store on it."""
        self._loop = asyncio.get_running_loop()

    def save(self, job_id: str, answer: Answer) -> SavedOutputs:
        """Write the report and images of ``answer`` under the reports dir. Blocking: run it in a thread."""
        report = report_markdown(answer)
        directory = self._settings.reports_dir
        private_dir(directory)
        image_paths = [
            str(images.save(image, directory, f"{job_id}-{n}").path)
            for n, image in enumerate(answer.images, 1)
        ]
        if report is None:
            return SavedOutputs(None, None, image_paths)
        # The id comes from upstream: made safe as a name, it cannot place the file outside the directory.
        path = directory / f"{images.safe_stem(job_id, limit=200) or 'report'}.md"
        write_private(path, report.encode("utf-8"))
        return SavedOutputs(report, str(path.resolve()), image_paths)

    def read(self, job: ResearchJob) -> str:
        """The report: this replica's copy in the data dir, else the database's (another replica finished it).

        Blocking: call it in a worker thread. Called on the event loop, it reads the file only.
        """
        if job.report_path:
            try:
                return Path(job.report_path).read_text(encoding="utf-8")
            except OSError:
                pass
        if not job.terminal or self._loop is None:
            return ""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a worker thread, as it should be: ask the store on the loop
            stored = asyncio.run_coroutine_threadsafe(self._store.get_report(job.interaction_id), self._loop)
            return stored.result(REPORT_FETCH_SECONDS) or ""
        log.warning(
            "report of %s is not in this data dir, and was asked for on the event loop", job.interaction_id
        )
        return ""

    async def images(self, job: ResearchJob) -> list[GeneratedImage]:
        """The report's images (charts): this replica's copies in the data dir, else the database's."""
        if not job.image_paths:
            return []
        local = await anyio.to_thread.run_sync(_read_images, job.image_paths)
        if local is not None:
            return local
        return await self._store.get_report_images(job.interaction_id)


def report_markdown(answer: Answer) -> str | None:
    """The report as markdown: the text, then the sources it cites that it does not already list, as links.

    A report that lists its sources itself (its numbers match its ``[n]`` markers) keeps that list alone.
    """
    if not answer.text:
        return None
    unlisted = [c for c in answer.citations if c.url not in answer.text]
    if not unlisted:
        return answer.text
    heading = "More sources" if len(unlisted) < len(answer.citations) else "Sources"
    sources = "\n".join(f"{n}. [{c.title or c.url}]({c.url})" for n, c in enumerate(unlisted, 1))
    return f"{answer.text.rstrip()}\n\n## {heading}\n\n{sources}\n"


def _read_images(paths: list[str]) -> list[GeneratedImage] | None:
    """The images at ``paths``; None when any of them is not on this machine."""
    found = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None
        found.append(GeneratedImage(data=data, mime_type=mimetypes.guess_type(path)[0] or "image/png"))
    return found
