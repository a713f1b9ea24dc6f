"""The bot's own settings: Slack's usual variables plus a few timings, read from the environment once."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from server.core import ConfigurationError

from .suggestions import DEFAULT_PROMPTS, prompts_from_env

DEFAULT_API_URL = "https://slack.com/api/"

# Test-only: exit the process right after the report summary is posted and before that is recorded, to prove
# that a restart does not post it twice. Honoured only when GEMINI_INTERACTIONS_TEST_HOOKS=1 is set as well.
CRASH_AFTER_POST_ENV = "GEMINI_INTERACTIONS_SLACK_CRASH_AFTER_POST"
TEST_HOOKS_ENV = "GEMINI_INTERACTIONS_TEST_HOOKS"

_APP_HELP = (
    "Create the Slack app from slack_manifest.yaml (see the README section 'Slack bot'), install it to your "
    "workspace, and export the values it shows you."
)


def normalise_api_url(url: str | None) -> str:
    """slack_sdk joins method names with urljoin, so the base URL must end with '/'."""
    url = (url or "").strip() or DEFAULT_API_URL
    return url.rstrip("/") + "/"


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {raw!r}.") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {raw!r}.")
    return value


# User ids (U…, W… on Enterprise Grid), user-group ids (S…), channel ids (C… public, G… private, D… direct).
SLACK_ID = re.compile(r"[UWSCGD][A-Z0-9]{2,}")


def research_allowed(raw: str | None) -> frozenset[str]:
    """``SLACK_RESEARCH_ALLOWED``: comma- or space-separated Slack ids; empty: everyone may start research."""
    ids = [part for part in re.split(r"[\s,]+", (raw or "").strip()) if part]
    wrong = [part for part in ids if not SLACK_ID.fullmatch(part)]
    if wrong:
        raise ConfigurationError(
            f"SLACK_RESEARCH_ALLOWED holds {', '.join(map(repr, wrong))}, which are not Slack ids. List user ids "
            "(U…), user-group ids (S…) and channel ids (C…, G…, D…), separated by commas; copy them from a "
            "profile's or a channel's 'Copy member ID' / 'Copy channel ID'."
        )
    return frozenset(ids)


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"{name} must be a whole number of at least 1, got {raw!r}.")
    return int(raw)


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}.")


@dataclass(frozen=True, slots=True)
class SlackConfig:
    bot_token: str
    signing_secret: str | None
    app_token: str | None
    api_url: str = DEFAULT_API_URL
    progress_seconds: float = (
        10.0  # at most one progress edit of a "research started" message per job per this
    )
    sweep_seconds: float = 30.0  # how often to look for report deliveries that are due
    max_turns: int = 8  # answers / images / research starts prepared at once by this process; the rest queue
    retry_base_seconds: float = 2.0  # first backoff of a failed report delivery (doubles each attempt)
    research_plan_first: bool = False  # SLACK_RESEARCH_PLAN_FIRST: /gemini research proposes a plan first
    stream_answers: bool = (
        True  # SLACK_STREAM_ANSWERS: answers stream in (false: posted, then edited as they grow)
    )
    suggested_prompts: tuple[dict[str, str], ...] = DEFAULT_PROMPTS  # SLACK_SUGGESTED_PROMPTS
    crash_after_post: bool = False
    # Who may start research: user, user-group and channel ids (SLACK_RESEARCH_ALLOWED); empty: everyone.
    research_allowed: frozenset[str] = field(default_factory=frozenset)
    usergroup_cache_seconds: float = 300.0  # how long a user group's members are remembered

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackConfig:
        """Read and check the environment; raise ConfigurationError naming exactly what is missing."""
        env = os.environ if env is None else env
        bot_token = env.get("SLACK_BOT_TOKEN", "").strip()
        app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
        secret = env.get("SLACK_SIGNING_SECRET", "").strip() or None
        missing = []
        if not bot_token:
            missing.append("SLACK_BOT_TOKEN (the Bot User OAuth Token, xoxb-…, under OAuth & Permissions)")
        if not app_token and not secret:
            missing.append(
                "SLACK_SIGNING_SECRET (under Basic Information → App Credentials; needed in HTTP mode), or "
                "SLACK_APP_TOKEN (an app-level token, xapp-…, with connections:write) for Socket Mode"
            )
        if missing:
            raise ConfigurationError("Missing " + "; and ".join(missing) + ". " + _APP_HELP)
        if not bot_token.startswith("xoxb-"):
            raise ConfigurationError("SLACK_BOT_TOKEN should start with xoxb- (the Bot User OAuth Token).")
        if app_token and not app_token.startswith("xapp-"):
            raise ConfigurationError("SLACK_APP_TOKEN should start with xapp- (an app-level token).")
        return cls(
            bot_token=bot_token,
            signing_secret=secret,
            app_token=app_token,
            api_url=normalise_api_url(env.get("SLACK_API_URL")),
            progress_seconds=_seconds(env, "GEMINI_INTERACTIONS_SLACK_PROGRESS_SECONDS", 10.0),
            sweep_seconds=_seconds(env, "GEMINI_INTERACTIONS_SLACK_SWEEP_SECONDS", 30.0),
            max_turns=_count(env, "GEMINI_INTERACTIONS_SLACK_MAX_TURNS", 8),
            research_plan_first=_flag(env, "SLACK_RESEARCH_PLAN_FIRST"),
            stream_answers=_flag(env, "SLACK_STREAM_ANSWERS", default=True),
            suggested_prompts=prompts_from_env(env),
            crash_after_post=env.get(TEST_HOOKS_ENV) == "1" and env.get(CRASH_AFTER_POST_ENV) == "1",
            research_allowed=research_allowed(env.get("SLACK_RESEARCH_ALLOWED")),
        )
