"""The core both front doors share: one object that answers, draws and researches.

    async with Core.running(settings) as core:
        answer = await core.ask("hello")
        job = await core.research.start("TPUs", origin=Origin(source="mcp"))
"""
# INTERFACE DRAFT: bodies are being written now; signatures are stable.

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .domain import Answer, Attachment, Origin, ResearchJob, ToolName
from .settings import Settings


@dataclass(frozen=True, slots=True)
class SavedImage:
    path: Path  # absolute, under settings.images_dir
    mime_type: str
    bytes: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ImageResult:
    answer: Answer  # answer.images holds the raw bytes too
    files: tuple[SavedImage, ...]


@dataclass(frozen=True, slots=True)
class JobEvent:
    """Published for every job change, across processes. kind: 'started', 'progress' or 'finished'."""

    kind: str
    job: ResearchJob


class ResearchService:
    async def start(self, prompt: str, *, agent: str | None = None, origin: Origin) -> ResearchJob: ...
    async def get(self, interaction_id: str, *, viewer: Origin) -> ResearchJob: ...  # ResearchNotFound/Forbidden
    async def cancel(self, interaction_id: str, *, viewer: Origin) -> ResearchJob: ...
    async def list(self, *, viewer: Origin, status: str | None = None, limit: int = 20) -> list[ResearchJob]: ...
    def read_report(self, job: ResearchJob) -> str: ...  # the whole markdown report ('' until finished)

    @asynccontextmanager
    async def events(self) -> AsyncIterator[AsyncIterator[JobEvent]]:  # every JobEvent from now on
        yield  # type: ignore[misc]


class Core:
    settings: Settings
    research: ResearchService
    store: Any  # server.core.store.Store

    @classmethod
    @asynccontextmanager
    async def running(cls, settings: Settings) -> AsyncIterator[Core]:
        yield  # type: ignore[misc]

    async def ask(
        self,
        prompt: str,
        *,
        model: str | None = None,
        system_instruction: str | None = None,
        tools: Sequence[ToolName] = (),
        response_schema: dict[str, Any] | None = None,
        attachments: Sequence[Attachment] = (),
        previous_interaction_id: str | None = None,
    ) -> Answer: ...

    async def generate_image(
        self,
        prompt: str,
        *,
        model: str | None = None,
        aspect_ratio: str | None = None,
        previous_interaction_id: str | None = None,
    ) -> ImageResult: ...
