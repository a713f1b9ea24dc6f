"""Errors a person may see. Every message says what happened and what to do next; none carries a secret.

GeminiInteractionsError
 ├─ ConfigurationError          no API key, bad settings
 ├─ InvalidInput                an argument we refuse before calling Gemini (size, type, path)
 │   └─ AttachmentError         a file that cannot be attached
 ├─ NotFound                    an id we do not know
 │   └─ ResearchNotFound        a research job id not in our store
 ├─ Forbidden                   a job that belongs to someone else
 ├─ ConflictError               e.g. cancelling a job that already finished
 └─ UpstreamError               Gemini answered with an error or not at all
     ├─ AuthenticationFailed    401/403: key missing, wrong or lacking access
     ├─ RateLimited             429 (.retry_after seconds when given)
     ├─ InteractionExpired      404 on a continuation: expired, or made with store=false
     ├─ UpstreamRejected        400/409/422: Gemini refused the request
     ├─ UpstreamTimeout         no answer within our timeout
     └─ UpstreamUnavailable     connection failure, 5xx
"""

from __future__ import annotations

KEY_HELP = (
    "Set GEMINI_API_KEY (create one at https://aistudio.google.com/apikey) in the environment of this "
    "server, or start it with --emulator to try it without a key."
)


class GeminiInteractionsError(Exception):
    """Base of every error we raise on purpose; ``str(err)`` is safe to show to a user."""


class ConfigurationError(GeminiInteractionsError):
    pass


class InvalidInput(GeminiInteractionsError):
    pass


class AttachmentError(InvalidInput):
    pass


class NotFound(GeminiInteractionsError):
    pass


class ResearchNotFound(NotFound):
    pass


class Forbidden(GeminiInteractionsError):
    pass


class ConflictError(GeminiInteractionsError):
    pass


class UpstreamError(GeminiInteractionsError):
    status_code: int | None = None

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthenticationFailed(UpstreamError):
    pass


class RateLimited(UpstreamError):
    def __init__(
        self, message: str, *, retry_after: float | None = None, status_code: int | None = 429
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class InteractionExpired(UpstreamError):
    pass


class UpstreamRejected(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamUnavailable(UpstreamError):
    pass


def missing_key() -> ConfigurationError:
    return ConfigurationError(f"No Gemini API key is configured. {KEY_HELP}")
