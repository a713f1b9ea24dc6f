"""The core both front doors share, and everything they may use of it (``tests/core/test_exported_members.py``
keeps this list honest; the import contract in ``pyproject.toml`` keeps the front doors to it).

    from server.core import Core, Origin, Settings

    async with Core.running(Settings()) as core:
        answer = await core.ask("hello", caller=Origin(source="mcp"))
        job = await core.research.start("TPUs", origin=Origin(source="mcp"))

Inside: ``core.py`` (the object the front doors hold), ``gateway.py`` (the one module that imports google.genai),
``research/`` (Deep Research runs: leases, watching, reports, events), ``costs/`` (the price table, the record
of billed calls, the operator's limits), ``store/`` (SQLAlchemy: SQLite or PostgreSQL), ``domain.py``,
``owners.py`` (whose each interaction is), ``errors.py``, ``settings.py``, ``limits.py``, ``attachments.py``,
``images.py``, ``logs.py``, ``runner.py`` (what every command shares: logging, settings, ``--emulator``, signals,
uvicorn), ``version.py`` (the version ``--version`` and the MCP server report), ``http_limits.py`` (what every HTTP
route does with hostile input: bodies bounded in bytes and time) and ``webhooks/`` (Gemini's webhook deliveries
in, and the operator's register / rotate / list).

The store's names are loaded on first use: importing SQLAlchemy must not hold up an MCP server's first answer.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .attachments import MAX_FILE_BYTES, MAX_FILES, MAX_TEXT_BYTES, MAX_TOTAL_BYTES, from_bytes, load_files
from .core import Core, ImageResult, Research
from .costs import Costs, PriceTable, format_usd
from .domain import (
    AWAITING_APPROVAL,
    START_UNKNOWN,
    TERMINAL_STATUSES,
    Answer,
    AnswerPiece,
    Attachment,
    Citation,
    Cost,
    GeneratedImage,
    InteractionRecord,
    Origin,
    ResearchJob,
    ResearchStatus,
    TextPiece,
    ToolName,
    ToolPiece,
    Usage,
    UsageRecord,
    UsageTotal,
    slack_user_of,
)
from .errors import (
    USAGE_HELP,
    AttachmentError,
    AuthenticationFailed,
    ConfigurationError,
    ConflictError,
    Forbidden,
    GeminiInteractionsError,
    InteractionExpired,
    InvalidInput,
    LimitReached,
    NotAwaitingApproval,
    NotFound,
    NotReady,
    RateLimited,
    ResearchNotFound,
    StartUnknown,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .http_limits import guard_bodies
from .images import SavedImage, as_png, preview
from .limits import MAX_PROMPT_CHARS, check_prompt
from .logs import interaction_context
from .models import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_MODEL,
    DEFAULT_RESEARCH_AGENT,
    THOROUGH_RESEARCH_AGENT,
    ThinkingLevel,
)
from .owners import (
    SINGLE_TOKEN_NAME,
    TOKEN_NAME,
    TOKEN_NAME_RULE,
    oidc_owner,
    slack_owner,
    token_digest,
    token_owner,
)
from .readiness import Readiness
from .research import JobEvent, elapsed_seconds
from .runner import (
    EmulatorStart,
    Runner,
    bind,
    configuration_error,
    known_problem,
    serve_http,
    until_signal,
    url_of,
    watch_signals,
)
from .settings import Settings, load_settings
from .version import package_version
from .webhooks import WEBHOOK_PATH, WebhookAdmin, WebhookReceiver, webhook_endpoint

if _TYPE_CHECKING:
    from .store import Delivery, PendingStart, Store

_STORE_NAMES = frozenset({"Delivery", "PendingStart", "Store"})

__all__ = [
    "AWAITING_APPROVAL",
    "DEFAULT_IMAGE_MODEL",
    "DEFAULT_MODEL",
    "DEFAULT_RESEARCH_AGENT",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_PROMPT_CHARS",
    "MAX_TEXT_BYTES",
    "MAX_TOTAL_BYTES",
    "SINGLE_TOKEN_NAME",
    "START_UNKNOWN",
    "TERMINAL_STATUSES",
    "THOROUGH_RESEARCH_AGENT",
    "TOKEN_NAME",
    "TOKEN_NAME_RULE",
    "USAGE_HELP",
    "WEBHOOK_PATH",
    "Answer",
    "AnswerPiece",
    "Attachment",
    "AttachmentError",
    "AuthenticationFailed",
    "Citation",
    "ConfigurationError",
    "ConflictError",
    "Core",
    "Cost",
    "Costs",
    "Delivery",
    "EmulatorStart",
    "Forbidden",
    "GeminiInteractionsError",
    "GeneratedImage",
    "ImageResult",
    "InteractionExpired",
    "InteractionRecord",
    "InvalidInput",
    "JobEvent",
    "LimitReached",
    "NotAwaitingApproval",
    "NotFound",
    "NotReady",
    "Origin",
    "PendingStart",
    "PriceTable",
    "RateLimited",
    "Readiness",
    "Research",
    "ResearchJob",
    "ResearchNotFound",
    "ResearchStatus",
    "Runner",
    "SavedImage",
    "Settings",
    "StartUnknown",
    "Store",
    "TextPiece",
    "ThinkingLevel",
    "ToolName",
    "ToolPiece",
    "UpstreamError",
    "UpstreamRejected",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "Usage",
    "UsageRecord",
    "UsageTotal",
    "WebhookAdmin",
    "WebhookReceiver",
    "as_png",
    "bind",
    "check_prompt",
    "configuration_error",
    "elapsed_seconds",
    "format_usd",
    "from_bytes",
    "guard_bodies",
    "interaction_context",
    "known_problem",
    "load_files",
    "load_settings",
    "oidc_owner",
    "package_version",
    "preview",
    "serve_http",
    "slack_owner",
    "slack_user_of",
    "token_digest",
    "token_owner",
    "until_signal",
    "url_of",
    "watch_signals",
    "webhook_endpoint",
]


def __getattr__(name: str) -> object:
    if name in _STORE_NAMES:
        from . import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
