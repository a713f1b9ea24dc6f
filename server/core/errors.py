"""Errors a person may see. Every message says what happened and what to do next; none carries a secret.

GeminiInteractionsError
 ├─ ConfigurationError          no API key, bad settings, a service we cannot start without
 ├─ InvalidInput                an argument we refuse before calling Gemini (size, type, path)
 │   └─ AttachmentError         a file that cannot be attached
 ├─ NotFound                    an id we do not know
 │   └─ ResearchNotFound        a research job id not in our store
 ├─ Forbidden                   a job that belongs to someone else
 ├─ ConflictError               a record that already exists (recording the same research run twice)
 │   └─ NotAwaitingApproval     approving a plan that is not waiting for it (.status, .approved)
 ├─ LimitReached                an operator's limit refuses a start (.limit: the setting, .resets_at)
 ├─ NotReady                    the job database is not open yet (still connecting; retried on its own)
 └─ UpstreamError               Gemini answered with an error or not at all (.status_code, .reason)
     ├─ AuthenticationFailed    the API key: not valid, refused (unrestricted/standard key), restricted
     ├─ AccessDenied            403 not about the key: this project may not use that model or agent
     ├─ RateLimited             429: rate limit, quota, or a tier that excludes the agent (.retry_after)
     ├─ InteractionExpired      404 on a continuation: expired, or made with store=false
     ├─ UnknownModel            404 for the model or agent id: mistyped or retired (names the id and setting)
     ├─ UpstreamRejected        400/402/409/422: Gemini refused the request
     ├─ UpstreamTimeout         no answer within our timeout
     ├─ UpstreamUnavailable     connection failure, 5xx
     └─ StartUnknown            a research start with no readable answer: the run may exist upstream (billed),
                                so it is listed as ``start_unknown`` under ``.job_id``

Which Gemini answer becomes which error, with Google's sources: the README's error table and
``upstream_errors.py``.
"""

from __future__ import annotations

from datetime import datetime

KEY_HELP = (
    "Set GEMINI_API_KEY (create one at https://aistudio.google.com/apikey) in the environment of this "
    "server, or start it with --emulator to try it without a key."
)
USAGE_HELP = (
    "Check your usage in Google AI Studio (https://aistudio.google.com/usage) before starting it again."
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


class NotAwaitingApproval(ConflictError):
    """Approving a research plan that is not waiting for approval: still being drafted, already approved (its run
    started, perhaps by a second click), cancelled or ended. ``status`` and ``approved`` say which."""

    def __init__(self, message: str, *, status: str, approved: bool) -> None:
        super().__init__(message)
        self.status = status
        self.approved = approved


class LimitReached(GeminiInteractionsError):
    """A limit the operator set refuses a new answer, image or research run; runs already started go on.

    ``limit`` names the setting (``GEMINI_INTERACTIONS_RESEARCH_PER_DAY`` …); ``resets_at`` is when it lets the
    next start through on its own (None: only the operator can change it).
    """

    def __init__(self, message: str, *, limit: str, resets_at: datetime | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.resets_at = resets_at


class NotReady(GeminiInteractionsError):
    pass


class UpstreamError(GeminiInteractionsError):
    status_code: int | None = None
    reason: str | None = None  # Google's error reason (``details[].reason``), when it sent one

    def __init__(self, message: str, *, status_code: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason


class AuthenticationFailed(UpstreamError):
    pass


class AccessDenied(UpstreamError):
    pass


class RateLimited(UpstreamError):
    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = 429,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, reason=reason)
        self.retry_after = retry_after


class InteractionExpired(UpstreamError):
    pass


class UnknownModel(UpstreamError):
    pass


class UpstreamRejected(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamUnavailable(UpstreamError):
    pass


class StartUnknown(UpstreamError):
    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


def missing_key() -> ConfigurationError:
    return ConfigurationError(f"No Gemini API key is configured. {KEY_HELP}")
