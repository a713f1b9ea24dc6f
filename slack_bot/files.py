"""Files shared with a message (images, PDFs, …) downloaded with the bot token and turned into attachments.

The token goes only to Slack's own file hosts, over https on port 443 (``token_may_go_to``), or to exactly the
scheme, host and port of ``SLACK_API_URL`` (a local fake, or a proxy the operator chose). Redirects are followed
by hand, each hop checked the same way: Slack answers some downloads with a redirect to ``slack-files.com``, and
a redirect anywhere else is refused, not followed without the token. A download that answers with an HTML page
is Slack's sign-in page: the app lacks ``files:read``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from server.core import MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES, Attachment, AttachmentError, from_bytes

DOWNLOAD_TIMEOUT_SECONDS = 60
CHUNK = 64 * 1024
MAX_REDIRECTS = 3
# Where Slack serves private files: files.slack.com, and slack-files.com / slack-edge.com that it redirects to.
SLACK_FILE_DOMAINS = ("slack.com", "slack-files.com", "slack-edge.com")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of ``url``; None for one we would not send a token to in any case."""
    parts = urlsplit(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # a port that is not a number
        return None
    if not parts.hostname or port is None or parts.username is not None or parts.password is not None:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def token_may_go_to(url: str, api_url: str) -> bool:
    """Whether a download from ``url`` may carry the bot token."""
    origin = _origin(url)
    if origin is None:
        return False
    scheme, host, port = origin
    if (
        scheme == "https"
        and port == 443
        and any(host == d or host.endswith(f".{d}") for d in SLACK_FILE_DOMAINS)
    ):
        return True
    return origin == _origin(api_url)


class _OffSlack(Exception):
    """A download (or one of its redirects) pointing outside Slack."""


async def _download(
    session: aiohttp.ClientSession, url: str, token: str, name: str, api_url: str
) -> tuple[bytes, str]:
    headers = {"Authorization": f"Bearer {token}"}
    for _hop in range(MAX_REDIRECTS + 1):
        if not token_may_go_to(url, api_url):
            raise _OffSlack(url)
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                url = urljoin(str(response.url), response.headers["Location"])
                continue
            return await _body(response, name)
    raise AttachmentError(f"Slack redirected the download of {name} too many times. Try again.")


async def _body(response: aiohttp.ClientResponse, name: str) -> tuple[bytes, str]:
    if response.status != 200:
        raise AttachmentError(f"Slack would not let me download {name} (HTTP {response.status}). Try again.")
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
            try:
                data, content_type = await _download(session, url, token, name, api_url)
            except _OffSlack:
                raise AttachmentError(
                    f"{name} is hosted outside Slack, so I will not fetch it with my token."
                ) from None
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
