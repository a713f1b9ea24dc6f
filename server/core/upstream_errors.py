"""Google's error envelope, read as Google sends it, turned into an error that names the real cause.

Gemini answers errors as a ``google.rpc.Status`` in JSON (https://cloud.google.com/apis/design/errors)::

    {"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED",
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_SERVICE_BLOCKED",
                            "domain": "googleapis.com", "metadata": {...}}, ...]}}

The Interactions API also documents string codes in ``code`` (``model_not_found``, ``permission_denied`` …,
https://ai.google.dev/gemini-api/docs/api-errors); google-genai's own ``Error`` model is thinner still (a string
``code`` and a ``message``). We read every shape and decide on the HTTP status, the ``reason`` values Google
documents (``google/api/error_reason.proto`` in googleapis) and what the call was about. The README's error
table lists each case with its source; each has a test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from . import errors
from .models import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_MODEL,
    DEFAULT_RESEARCH_AGENT,
    THOROUGH_RESEARCH_AGENT,
    retired,
)

MESSAGE_LIMIT = 300
_KEYS = re.compile(r"AIza[0-9A-Za-z_\-]{20,}|\bAQ\.[0-9A-Za-z_\-.]{10,}")

KEY_PAGE = "https://aistudio.google.com/apikey"
SET_KEY = "set it as GEMINI_API_KEY (GOOGLE_API_KEY wins when both are set)"

# Reasons of the googleapis.com error domain (google/api/error_reason.proto) and what to do about each.
KEY_REASONS: dict[str, str] = {
    "API_KEY_INVALID": (
        "Gemini says the API key is not valid (mistyped, deleted or expired). Create a key at "
        f"{KEY_PAGE} and {SET_KEY}."
    ),
    "API_KEY_SERVICE_BLOCKED": (
        "The API key may not call the Gemini API: its API restrictions leave out the Generative Language API "
        "(generativelanguage.googleapis.com). In the Google Cloud console (APIs & Services → Credentials → "
        "this key → API restrictions) add the Generative Language API, or create a key in Google AI Studio "
        f"({KEY_PAGE}; its keys are restricted to the Gemini API) and {SET_KEY}."
    ),
    "ACCESS_TOKEN_TYPE_UNSUPPORTED": (
        "Gemini no longer accepts this kind of API key: unrestricted standard keys are refused (since "
        "19 June 2026) and standard keys altogether from September 2026. Create a new key in Google AI "
        f"Studio ({KEY_PAGE}; new keys are auth keys restricted to the Gemini API) and {SET_KEY}. Until "
        "then, restricting this key to the Generative Language API keeps a standard key working."
    ),
}
APP_RESTRICTIONS: dict[str, str] = {
    "API_KEY_HTTP_REFERRER_BLOCKED": "HTTP referrers",
    "API_KEY_IP_ADDRESS_BLOCKED": "IP addresses",
    "API_KEY_ANDROID_APP_BLOCKED": "Android apps",
    "API_KEY_IOS_APP_BLOCKED": "iOS apps",
}

Kind = Literal["answer", "image", "research", "read"]
SETTINGS: dict[str, str] = {
    "answer": "GEMINI_INTERACTIONS_MODEL",
    "image": "GEMINI_INTERACTIONS_IMAGE_MODEL",
    "research": "GEMINI_INTERACTIONS_RESEARCH_AGENT",
}
DEFAULTS: dict[str, str] = {
    "answer": f"{DEFAULT_MODEL} (it follows Google's current Flash model)",
    "image": DEFAULT_IMAGE_MODEL,
    "research": f"{DEFAULT_RESEARCH_AGENT} (or {THOROUGH_RESEARCH_AGENT}, slower and more thorough)",
}


@dataclass(frozen=True, slots=True)
class Envelope:
    """What Gemini said went wrong."""

    http_status: int
    message: str = ""
    status: str | None = None  # the canonical name: PERMISSION_DENIED, NOT_FOUND …
    code_name: str | None = None  # an Interactions API string code: model_not_found …
    reasons: tuple[str, ...] = ()  # ErrorInfo.reason values
    quotas: tuple[str, ...] = ()  # QuotaFailure metrics and ids, ErrorInfo quota metadata
    zero_quota: bool = False  # a quota whose limit is 0 (the tier excludes this)
    retry_after: float | None = None

    @property
    def reason(self) -> str | None:
        return self.reasons[0] if self.reasons else None


@dataclass(frozen=True, slots=True)
class Call:
    """What a failed call was about, so that its error can name the id and the setting that chose it."""

    kind: Kind = "read"
    model: str | None = None  # the model or agent id
    from_argument: bool = False  # chosen by the caller (a tool's model/agent argument), not by a setting
    previous_interaction_id: str | None = None


def read_envelope(http_status: int, body: Any, headers: Mapping[str, str] | None = None) -> Envelope:
    """Google's envelope from a response body (a dict, the ``[{"error": …}]`` list form, or JSON text)."""
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except ValueError:
            return Envelope(http_status, message=_text(body), retry_after=_retry_header(headers))
    if isinstance(body, list) and body:
        body = body[0]
    inner = body.get("error", body) if isinstance(body, dict) else {}
    if not isinstance(inner, dict):
        inner = {"message": str(inner)}
    code = inner.get("code")
    reasons: list[str] = []
    quotas: list[str] = []
    zero = False
    retry = _retry_header(headers)
    for detail in inner.get("details") or []:
        if not isinstance(detail, dict):
            continue
        if isinstance(detail.get("reason"), str):
            reasons.append(detail["reason"])
        found = detail.get("metadata")
        metadata: dict[str, Any] = found if isinstance(found, dict) else {}
        quotas += [str(metadata[k]) for k in ("quota_metric", "quota_limit") if metadata.get(k)]
        zero = zero or str(metadata.get("quota_limit_value", "")) == "0"
        for violation in detail.get("violations") or []:
            if isinstance(violation, dict):
                quotas += [str(violation[k]) for k in ("quotaMetric", "quotaId") if violation.get(k)]
                zero = zero or str(violation.get("quotaValue", "")) == "0"
        if retry is None and isinstance(detail.get("retryDelay"), str):
            retry = _seconds(detail["retryDelay"].rstrip("s"))
    return Envelope(
        http_status=http_status,
        message=_text(inner.get("message") or ""),
        status=inner.get("status") if isinstance(inner.get("status"), str) else None,
        code_name=code if isinstance(code, str) and not code.isdigit() else None,
        reasons=tuple(reasons),
        quotas=tuple(quotas),
        zero_quota=zero,
        retry_after=retry,
    )


def to_error(env: Envelope, call: Call, *, secrets: Iterable[str] = ()) -> Exception:
    """The error a person sees for ``env``: what happened, and what to do next."""
    said = clean(env.message, secrets)
    google = f" (Gemini said: {said})" if said else ""
    code, reason = env.http_status, env.reason
    if reason in KEY_REASONS:
        return errors.AuthenticationFailed(KEY_REASONS[reason], status_code=code, reason=reason)
    if reason in APP_RESTRICTIONS:
        return errors.AuthenticationFailed(
            f"The API key's application restrictions ({APP_RESTRICTIONS[reason]}) refuse calls from this "
            "server. Allow this server in the key's restrictions (Google Cloud console → Credentials), or "
            f"use a key made for servers{google}.",
            status_code=code,
            reason=reason,
        )
    if code == 401 or (code in (400, 403) and "api key not valid" in said.lower()):
        return errors.AuthenticationFailed(
            f"Gemini refused the API key{google}. Check the key, or create one at {KEY_PAGE}, and {SET_KEY}.",
            status_code=code,
            reason=reason,
        )
    if code == 429:
        return _rate_limited(env, call, google)
    if code == 403:
        return _forbidden(call, google, code, reason)
    if code == 404:
        return _not_found(env, call, said, google)
    if code >= 500:
        return errors.UpstreamUnavailable(
            f"Gemini had a server error ({code}{_name(env)}{': ' + said if said else ''}). Try again in a "
            "moment.",
            status_code=code,
            reason=reason,
        )
    if code == 402:
        return errors.UpstreamRejected(
            f"Gemini refused the request: the project's prepaid credit is used up{google}. Add funds to its "
            "billing account (or turn on automatic top-up) in Google AI Studio, then try again.",
            status_code=code,
            reason=reason,
        )
    return errors.UpstreamRejected(
        f"Gemini refused the request ({code}{_name(env)}{': ' + said if said else ''}).",
        status_code=code,
        reason=reason,
    )


def _rate_limited(env: Envelope, call: Call, google: str) -> Exception:
    wait = env.retry_after
    free = env.zero_quota or any("free" in q.lower() for q in env.quotas) or "free tier" in google.lower()
    if call.kind == "research" and free:
        return errors.RateLimited(
            f"Deep Research is not available on this key's tier: the free tier is refused{google}. It needs "
            "a paid-tier key: enable billing for the key's project in Google AI Studio, then try again.",
            retry_after=None,
            reason=env.reason,
        )
    when = f"Retry after {wait:g} s." if wait is not None else "Wait a minute and retry."
    return errors.RateLimited(
        f"Gemini rate limit or quota reached{google}. {when}", retry_after=wait, reason=env.reason
    )


def _forbidden(call: Call, google: str, code: int, reason: str | None) -> Exception:
    if call.kind == "research":
        return errors.AccessDenied(
            f"This key's project may not use the Deep Research agent {call.model!r}{google}. Deep Research "
            f"needs a paid-tier key with access to the agent: enable billing for the key's project, or choose "
            f"another agent ({_chooser(call)}).",
            status_code=code,
            reason=reason,
        )
    subject = f"the model {call.model!r}" if call.model else "this request"
    return errors.AccessDenied(
        f"Gemini refused access to {subject}{google}. Check that the key's project may use it (billing, "
        f"region, model access) or choose another model ({_chooser(call)}).",
        status_code=code,
        reason=reason,
    )


def _not_found(env: Envelope, call: Call, said: str, google: str) -> Exception:
    if call.kind == "read":
        return errors.NotFound(f"Gemini does not know that interaction{google}.")
    names_model = env.code_name in ("model_not_found", "agent_not_found") or bool(
        call.model and call.model in said
    )
    if call.previous_interaction_id and not names_model:
        return errors.InteractionExpired(
            "That interaction id is unknown to Gemini: stored interactions expire (55 days on a paid key, "
            "1 day on the free tier), and ones made with store=false are never kept. Start a new thread with "
            "ask.",
            status_code=404,
            reason=env.reason,
        )
    what = "Deep Research agent" if call.kind == "research" else "model"
    old = retired(call.model or "")
    why = (
        f"Google retired it ({old.what}; replaced by {old.replacement})"
        if old
        else "it is mistyped, or Google retired it"
    )
    return errors.UnknownModel(
        f"Gemini does not know the {what} {call.model!r}: {why}{google}. {_fix(call)}",
        status_code=404,
        reason=env.reason,
    )


def _chooser(call: Call) -> str:
    argument = "agent" if call.kind == "research" else "model"
    setting = SETTINGS.get(call.kind, "GEMINI_INTERACTIONS_MODEL")
    return f"the {argument} argument" if call.from_argument else setting


def _fix(call: Call) -> str:
    setting = SETTINGS.get(call.kind, "GEMINI_INTERACTIONS_MODEL")
    default = DEFAULTS.get(call.kind, DEFAULT_MODEL)
    if call.from_argument:
        argument = "agent" if call.kind == "research" else "model"
        return (
            f"It came from the {argument} argument: pass a current id, or leave it out to use the default "
            f"({setting}; built in: {default})."
        )
    return (
        f"It came from {setting}: set it to a current id, for example {default}, or unset it to use that "
        "default. To pin a model, use an exact id from https://ai.google.dev/gemini-api/docs/models."
    )


def clean(message: str, secrets: Iterable[str] = ()) -> str:
    """Google's message, trimmed, with anything that looks like a key (or is one of ours) blanked out."""
    text = " ".join(message.split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[key]")
    text = _KEYS.sub("[key]", text).rstrip(".")
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _name(env: Envelope) -> str:
    name = env.status or env.code_name
    return f" {name}" if name else ""


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value)


def _retry_header(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    if headers.get("retry-after-ms"):
        ms = _seconds(headers["retry-after-ms"])
        return ms / 1000 if ms is not None else None
    return _seconds(headers.get("retry-after"))


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
