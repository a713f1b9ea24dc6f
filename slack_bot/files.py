"""Files shared with a message (images, PDFs, …) downloaded with the bot token and turned into attachments.

The token is sent only to Slack's own file hosts (or to the host of ``SLACK_API_URL``, i.e. a local fake). A
download that answers with an HTML page is Slack's sign-in page: the app lacks ``files:read``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp

from server.core import MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES, Attachment, AttachmentError, from_bytes

DOWNLOAD_TIMEOUT_SECONDS = 60
CHUNK = 64 * 1024


def _allowed_host(url: str, api_url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    api_host = (urlsplit(api_url).hostname or "").lower()
    return host == "slack.com" or host.endswith(".slack.com") or (bool(host) and host == api_host)


async def _download(session: aiohttp.ClientSession, url: str, token: str, name: str) -> tuple[bytes, str]:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(url, headers=headers) as response:
        if response.status != 200:
            raise AttachmentError(
                f"Slack would not let me download {name} (HTTP {response.status}). Try again."
            )
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith("text/html"):
            raise AttachmentError(
                f"I could not download {name}: Slack answered with a sign-in page. The app needs the files:read "
                "scope; ask an admin to reinstall it from slack_manifest.yaml."
            )
        data = bytearray()
        async for chunk in response.content.iter_chunked(CHUNK):
            data.extend(chunk)
            if len(data) > MAX_FILE_BYTES:
                raise AttachmentError(
                    f"{name} is larger than {MAX_FILE_BYTES // 1048576} MiB, the limit per file. "
                    "Share a smaller file or an excerpt."
                )
        return bytes(data), content_type


def _name(file: dict[str, Any]) -> str:
    return str(file.get("name") or file.get("title") or file.get("id") or "file")


async def fetch_attachments(files: list[dict[str, Any]], *, token: str, api_url: str) -> list[Attachment]:
    """Download and check every shared file; raise AttachmentError (a message for the user) on the first refusal."""
    if not files:
        return []
    if len(files) > MAX_FILES:
        raise AttachmentError(f"{len(files)} files shared; I can read at most {MAX_FILES} per message.")
    for file in files:
        size = int(file.get("size") or 0)
        if size > MAX_FILE_BYTES:
            raise AttachmentError(
                f"{_name(file)} is {size / 1048576:.1f} MiB; the limit is {MAX_FILE_BYTES // 1048576} MiB per "
                "file. Share a smaller file."
            )
    declared = sum(int(f.get("size") or 0) for f in files)
    if declared > MAX_TOTAL_BYTES:
        raise AttachmentError(
            f"The files add up to {declared / 1048576:.1f} MiB; the limit is {MAX_TOTAL_BYTES // 1048576} MiB "
            "per message. Share fewer or smaller files."
        )
    attachments: list[Attachment] = []
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for file in files:
            name = _name(file)
            if (
                file.get("mode") in ("tombstone", "hidden_by_limit")
                or file.get("file_access") == "access_denied"
            ):
                raise AttachmentError(
                    f"{name} is not available to me (deleted, or hidden by the workspace plan)."
                )
            url = file.get("url_private_download") or file.get("url_private")
            if not url:
                raise AttachmentError(f"{name} has no download link; share it again as a file.")
            if not _allowed_host(url, api_url):
                raise AttachmentError(
                    f"{name} is hosted outside Slack, so I will not fetch it with my token."
                )
            try:
                data, content_type = await _download(session, url, token, name)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise AttachmentError(
                    f"Downloading {name} from Slack failed ({exc.__class__.__name__}). Try again."
                ) from None
            mime = file.get("mimetype") or content_type.split(";")[0] or None
            attachments.append(from_bytes(name, data, mime))
    total = sum(len(a.data) for a in attachments)
    if total > MAX_TOTAL_BYTES:
        raise AttachmentError(
            f"The files add up to {total / 1048576:.1f} MiB; the limit is {MAX_TOTAL_BYTES // 1048576} MiB per "
            "message. Share fewer or smaller files."
        )
    return attachments
