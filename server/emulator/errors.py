"""Google's error envelope: ``{"error": {"code": 404, "message": "...", "status": "NOT_FOUND"}}``.

Every error the emulator sends goes through :class:`ApiError`, so the SDK maps each one to the right
``google.genai._interactions`` exception (by HTTP status) with the envelope as ``e.body``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json; charset=UTF-8"

STATUS_BY_CODE: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

DEFAULT_MESSAGES: dict[int, str] = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The service is currently unavailable.",
    504: "The request timed out. Please try again.",
}


class ApiError(Exception):
    """An error answer: HTTP status ``code``, canonical ``status`` string, optional ``details`` and headers."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(code, "Request failed.")
        self.status = status or STATUS_BY_CODE.get(code, "UNKNOWN")
        self.details = details
        self.headers = dict(headers or {})
        super().__init__(f"{code} {self.status}: {self.message}")

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def to_response(self) -> Response:
        body = json.dumps(self.envelope(), indent=2).encode()
        return Response(body, status_code=self.code, headers=self.headers, media_type=JSON_MEDIA_TYPE)


def retry_after_headers(seconds: float) -> dict[str, str]:
    """Both headers the SDK honours: whole seconds (at least 1) and exact milliseconds."""
    seconds = max(0.0, seconds)
    return {"retry-after": str(max(1, math.ceil(seconds))), "retry-after-ms": str(round(seconds * 1000))}


def invalid_argument(message: str) -> ApiError:
    return ApiError(400, message)


def failed_precondition(message: str) -> ApiError:
    return ApiError(400, message, status="FAILED_PRECONDITION")


def not_found(interaction_id: str) -> ApiError:
    return ApiError(404, f"Interaction {interaction_id} not found.")


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API.",
    )


def api_key_invalid() -> ApiError:
    return ApiError(
        400,
        "API key not valid. Please pass a valid API key.",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key.",
            },
        ],
    )


def rate_limited(message: str | None, retry_after: float, *, quota_id: str | None = None) -> ApiError:
    details: list[dict[str, Any]] = []
    if quota_id:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaMetric": "generativelanguage.googleapis.com/" + quota_id}],
            }
        )
    details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after:g}s"})
    return ApiError(429, message, details=details, headers=retry_after_headers(retry_after))
