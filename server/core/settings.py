"""Settings, read once from the environment (prefix ``GEMINI_INTERACTIONS_``).

Key precedence follows the google-genai SDK: ``GOOGLE_API_KEY`` wins over ``GEMINI_API_KEY``. The base URL is
never ours to choose: the SDK reads ``GOOGLE_GEMINI_BASE_URL`` itself unless ``--emulator`` overrides it.
"""

from __future__ import annotations

import base64
import binascii
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .http_limits import DEFAULT_BODY_TIMEOUT_SECONDS, DEFAULT_HEADER_TIMEOUT_SECONDS
from .models import DEFAULT_IMAGE_MODEL, DEFAULT_MODEL, DEFAULT_RESEARCH_AGENT, ThinkingLevel


def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("gemini-interactions", appauthor=False))


class Settings(BaseSettings):
    # An empty variable is an unset one: hosts pass "" for optional fields the user left blank (Claude Desktop's
    # bundles, `${VAR:-}` in Compose), and "" must mean "the default", not an invalid value.
    model_config = SettingsConfigDict(
        env_prefix="GEMINI_INTERACTIONS_", extra="ignore", env_ignore_empty=True
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    model: str = DEFAULT_MODEL
    image_model: str = DEFAULT_IMAGE_MODEL
    research_agent: str = DEFAULT_RESEARCH_AGENT
    # Default thinking level of answers (ask, continue_thread, Slack); None leaves it to the model.
    thinking_level: ThinkingLevel | None = None
    poll_seconds: float = Field(default=10.0, gt=0)
    research_deadline_seconds: float = Field(default=3900.0, gt=0)
    lease_seconds: float = Field(default=30.0, gt=0)
    # How long writing a research start's intent, or the run Gemini started, may take: past it the start is
    # refused (nothing sent to Gemini), or the run is cancelled upstream (it could not be tracked).
    research_record_seconds: float = Field(default=15.0, gt=0)
    # A research stream that sends nothing for this long is treated as hung: we poll instead.
    stream_read_timeout_seconds: float = Field(default=120.0, gt=0)
    mcp_token: SecretStr | None = None
    # Named bearer tokens, one ``name: <sha256 hex>`` per line; a caller is ``token:<name>``.
    mcp_tokens_file: Path | None = None
    # OAuth resource-server mode: JWT access tokens from this issuer; a caller is ``oidc:<issuer>#<sub>``.
    oauth_issuer: str | None = None
    oauth_jwks_url: str | None = None  # default: the issuer's discovery document's jwks_uri
    oauth_audience: str | None = None  # default: <public_url>/mcp
    file_roots: str = ""
    # Hostile clients at the HTTP doors (http_limits.py): a request head must arrive whole within the first, a
    # body within the second (counted from the head).
    http_header_timeout_seconds: float = Field(default=DEFAULT_HEADER_TIMEOUT_SECONDS, gt=0)
    http_body_timeout_seconds: float = Field(default=DEFAULT_BODY_TIMEOUT_SECONDS, gt=0)
    # 2025-11-25 MCP sessions over HTTP: how many one owner may hold open, and how long one may sit idle.
    mcp_sessions_per_owner: int = Field(default=100, gt=0)
    mcp_session_idle_seconds: float = Field(default=600.0, gt=0)
    # Bounds one foreground answer (ask, generate_image), every continuation hop included; MCP hosts cut tool
    # calls at about 60 s.
    request_timeout_seconds: float = Field(default=45.0, gt=0)
    # The operator's price table (TOML, the shipped table's format); None: the shipped one (an estimate).
    prices_file: Path | None = None
    # Research starts per owner per UTC day; None: no limit (0: research is off).
    research_per_day: int | None = Field(default=None, ge=0)
    # The deployment's estimated spend per calendar month (UTC), in US dollars; None: no budget.
    monthly_budget_usd: Decimal | None = Field(default=None, gt=0)
    # A base URL set here (by --emulator) wins over GOOGLE_GEMINI_BASE_URL; None leaves it to the SDK.
    base_url: str | None = None
    api_key: SecretStr | None = None
    # Where the world reaches this deployment (OAuth metadata and audience: <public_url>/mcp; webhook endpoint:
    # <public_url>/gemini/webhooks); None on a laptop.
    public_url: str | None = None
    # Gemini's webhook signing secret(s), ``whsec_…``; comma-separated while a rotation overlaps.
    webhook_secret: SecretStr | None = None
    # With webhooks on, a run is still polled this often, in case a delivery never comes.
    webhook_safety_poll_seconds: float = Field(default=300.0, gt=0)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        value = value.expanduser()
        if not value.is_absolute():
            raise ValueError(f"GEMINI_INTERACTIONS_DATA_DIR must be an absolute path, got {str(value)!r}")
        return value

    @field_validator(
        "thinking_level",
        "prices_file",
        "research_per_day",
        "monthly_budget_usd",
        "mcp_tokens_file",
        "oauth_issuer",
        "oauth_jwks_url",
        "oauth_audience",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mcp_token", "api_key", "webhook_secret")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        """Surrounding whitespace (a newline from ``echo`` or a file) is not part of a secret; blank is unset."""
        stripped = value.get_secret_value().strip() if value else ""
        return SecretStr(stripped) if stripped else None

    @field_validator("webhook_secret")
    @classmethod
    def _signing_secrets(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_signing_secrets(value.get_secret_value())
        return value

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            return None
        url = value.strip().rstrip("/")
        if not url.startswith(("https://", "http://")):
            raise ValueError(
                "GEMINI_INTERACTIONS_PUBLIC_URL must be a full URL, https://host[:port] as the world reaches this "
                "deployment (http:// only for local tests)"
            )
        return url

    @property
    def webhooks_enabled(self) -> bool:
        """Completion is pushed by Gemini's webhooks (public URL and signing secret both set), not streamed."""
        return bool(self.public_url and self.webhook_secret)

    def webhook_secrets(self) -> list[str]:
        """The signing secrets, in the order given (two during a rotation)."""
        if self.webhook_secret is None:
            return []
        return [part.strip() for part in self.webhook_secret.get_secret_value().split(",") if part.strip()]

    def resolved_api_key(self) -> str | None:
        if self.api_key:
            return self.api_key.get_secret_value()
        return os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY") or None

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'gemini-interactions.sqlite3'}"

    def file_root_paths(self) -> list[Path]:
        return [Path(p).expanduser().resolve() for p in self.file_roots.split(os.pathsep) if p.strip()]

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def research_create_timeout_seconds(self) -> float:
        """How long starting a research run may take before we give up on it (its create is never retried)."""
        return min(self.request_timeout_seconds, 30.0)

    @property
    def research_start_window_seconds(self) -> float:
        """The longest a live start can take: its intent, the create, the record and a cancel if the record
        failed. A start older than this was cut short (a crash)."""
        create, record = self.research_create_timeout_seconds, self.research_record_seconds
        return max(3 * create, 2 * create + 2 * record + 1.0)


def check_signing_secrets(value: str) -> None:
    """Each comma-separated part must be a Standard Webhooks secret: ``whsec_`` and base64 (never echoed)."""
    parts = [part.strip() for part in value.split(",") if part.strip()]
    for number, part in enumerate(parts, 1):
        try:
            decoded = base64.b64decode(part[6:] + "==") if part.startswith("whsec_") else b""
        except binascii.Error:
            decoded = b""
        if not decoded:
            raise ValueError(
                f"part {number} of GEMINI_INTERACTIONS_WEBHOOK_SECRET is not a signing secret: expected whsec_ "
                "followed by base64, as `gemini-interactions-admin webhook register` printed it"
            )


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (plus ``overrides``); a ConfigurationError that names what is wrong."""
    from pydantic import ValidationError

    from .errors import ConfigurationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(
            f"invalid configuration ({problems}). Fix the GEMINI_INTERACTIONS_* environment variables."
        ) from None
