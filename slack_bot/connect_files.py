"""Files shared in Slack Connect channels (shared with another organisation) arrive in events as stubs:
``{"id": "F…", "mode": "file_access", "file_access": "check_file_info"}``, with no ``url_private``. Slack's
answer is to call ``files.info`` for the file object, which has the download link
(docs.slack.dev/apis/slack-connect/using-slack-connect-api-methods, "Working with files"). Needs ``files:read``.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from server.core import MAX_FILES, AttachmentError

from .pacing import RateLimited

CHECK_FILE_INFO = "check_file_info"


async def complete_file_objects(client: AsyncWebClient, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``files`` with every Slack Connect stub replaced by its whole file object."""
    if len(files) > MAX_FILES:
        return files  # refused as a whole by fetch_attachments: no need to ask about each
    complete: list[dict[str, Any]] = []
    for file in files:
        if file.get("file_access") != CHECK_FILE_INFO:
            complete.append(file)
            continue
        file_id = str(file.get("id") or "")
        try:
            response = await client.files_info(file=file_id)
        except SlackApiError as exc:
            error = exc.response.get("error")
            raise AttachmentError(
                f"I could not read a file shared from another organisation ({file_id}): Slack's files.info "
                f"answered {error}. Share it again, or paste its text."
            ) from None
        except RateLimited:
            raise AttachmentError(
                "Slack asked me to slow down while I fetched a file shared from another organisation. Try again "
                "in a minute."
            ) from None
        complete.append(dict(response.get("file") or {}))
    return complete
