"""Google's error envelope: ``{"error": {"code": 404, "message": "...", "status": "NOT_FOUND", "details": [...]}}``.

A ``google.rpc.Status`` in JSON (https://cloud.google.com/apis/design/errors): numeric ``code``, canonical
``status``, ``details`` with ``google.rpc.ErrorInfo`` (``reason`` from ``google/api/error_reason.proto``),
``QuotaFailure``, ``RetryInfo``, ``LocalizedMessage``. Every error the emulator sends goes through
:class:`ApiError`, so the SDK maps each one to the right ``google.genai._interactions`` exception (by HTTP status)
with the envelope as ``e.body``.
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


def model_not_found(model: str, version: str = "v1") -> ApiError:
    """An unknown (mistyped or retired) model id; worded like the service's 404 for models."""
    return ApiError(
        404, f"models/{model} is not found for API version {version}, or is not supported for interactions."
    )


def agent_not_found(agent: str, version: str = "v1") -> ApiError:
    return ApiError(
        404, f"agents/{agent} is not found for API version {version}, or is not supported for interactions."
    )


def error_info(reason: str, message: str | None = None) -> list[dict[str, Any]]:
    """``details`` carrying a ``google.rpc.ErrorInfo`` with ``reason`` (and the message, localized)."""
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
    ]
    if message:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            }
        )
    return details


def api_key_service_blocked() -> ApiError:
    """A key whose API restrictions leave out the Gemini API (reported shape: continuedev/continue#12781)."""
    message = (
        "Requests to this API generativelanguage.googleapis.com method "
        "google.ai.generativelanguage.v1.InteractionService.CreateInteraction are blocked."
    )
    return ApiError(403, message, details=error_info("API_KEY_SERVICE_BLOCKED", message))


def access_token_type_unsupported(code: int = 401) -> ApiError:
    """An unrestricted standard key, refused since 19 June 2026 (https://ai.google.dev/gemini-api/docs/api-key;
    the envelope as reported on discuss.ai.google.dev/t/175711)."""
    message = (
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
        "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
    )
    return ApiError(code, message, details=error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED"))


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API.",
    )


def api_key_invalid() -> ApiError:
    message = "API key not valid. Please pass a valid API key."
    return ApiError(400, message, details=error_info("API_KEY_INVALID", message))


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
