"""Images Gemini delivers by ``uri`` instead of inline data (report charts, some image models), downloaded so they
are kept like inline ones: each within a deadline and a size cap, the API key sent only to Gemini's own host."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from .answers import image_uris
from .wire import read_capped, sdk_httpx

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
MAX_IMAGE_URIS = 16
MAX_IMAGE_BYTES = 32 * 1024 * 1024


class ImageDownloads:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Any = None

    async def fetch(self, interaction: dict[str, Any], *, timeout: float) -> tuple[dict[str, bytes], int]:
        """Download the images of ``interaction`` that carry a ``uri`` instead of data; (bytes by uri, failures).

        The API key goes only to Gemini's own host (the configured base URL's, else
        generativelanguage.googleapis.com); any other host must be https and gets no key.
        """
        uris = list(dict.fromkeys(image_uris(interaction)))[:MAX_IMAGE_URIS]
        fetched: dict[str, bytes] = {}
        failed = 0
        for uri in uris:
            try:
                with anyio.fail_after(timeout):
                    fetched[uri] = await self._download(uri)
            except Exception as exc:  # the answer is still worth having without this image
                failed += 1
                log.warning("could not download an image Gemini delivered by uri (%s)", type(exc).__name__)
        return fetched, failed

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _download(self, uri: str) -> bytes:
        parts = urlsplit(uri)
        gemini_host = urlsplit(self._base_url()).hostname
        headers: dict[str, str] = {}
        if parts.hostname and parts.hostname == gemini_host:
            headers["x-goog-api-key"] = self._settings.resolved_api_key() or ""
        elif parts.scheme != "https":
            raise ValueError("an image uri on another host must be https")
        client = self._http()
        async with client.stream("GET", uri, headers=headers, follow_redirects=not headers) as response:
            if response.is_redirect and headers:  # follow once, without the key
                location = response.headers.get("location", "")
                if urlsplit(location).scheme != "https":
                    raise ValueError("an image download redirected to a non-https location")
                return await self._download_plain(location)
            return await read_capped(response, MAX_IMAGE_BYTES)

    async def _download_plain(self, uri: str) -> bytes:
        async with self._http().stream("GET", uri, follow_redirects=True) as response:
            return await read_capped(response, MAX_IMAGE_BYTES)

    def _base_url(self) -> str:
        return self._settings.base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL") or DEFAULT_BASE_URL

    def _http(self) -> Any:
        if self._client is None:
            self._client = sdk_httpx().AsyncClient(timeout=30.0)
        return self._client
