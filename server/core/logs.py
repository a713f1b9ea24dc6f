"""Logging for both front doors: one stderr handler, text or JSON lines, secrets redacted, interaction ids attached.

    configure_logging("INFO", "json")            # once, first thing in a CLI's main()
    with interaction_context("v1_abc"):          # every line logged inside carries interaction_id=v1_abc
        log.info("watching research")

Text lines: ``2026-01-02 03:04:05,678 INFO server.core.research [v1_abc]: watching research``.
JSON lines (``GEMINI_INTERACTIONS_LOG_FORMAT=json``): one object per line with ``time`` (ISO 8601, UTC),
``level``, ``logger``, ``message``, ``interaction_id`` when known, and ``exception`` when there is one; a record
logged with ``extra={"json_fields": {...}}`` adds those keys too (a billed call's figures, under ``billed``).

Redaction is defence in depth: we never log a secret on purpose, but a library might (a URL with a key in it, an
exception that repeats a header). Every value of ``SECRET_ENV_VARS`` found in the environment, the password of
``GEMINI_INTERACTIONS_DATABASE_URL``, and anything passed to :func:`add_secret` is replaced by ``[redacted]`` in
the message, the traceback and the stack of every record that reaches the handler.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
LOG_FORMAT_ENV = "GEMINI_INTERACTIONS_LOG_FORMAT"
REDACTED = "[redacted]"
# Shorter values are not treated as secrets: redacting "abc" everywhere would garble the logs and hide nothing.
MIN_SECRET_CHARS = 6
SECRET_ENV_VARS = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GEMINI_INTERACTIONS_API_KEY",
    "GEMINI_INTERACTIONS_MCP_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_CLIENT_SECRET",
)
DATABASE_URL_ENV = "GEMINI_INTERACTIONS_DATABASE_URL"
# Libraries that log every request at INFO/DEBUG; they stay at WARNING unless asked for explicitly.
CHATTY_LOGGERS = (
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "google_genai",
    "aiosqlite",
    "sqlalchemy.engine",
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(interaction_tag)s: %(message)s"

_interaction_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gemini_interaction_id", default=None
)


def current_interaction_id() -> str | None:
    return _interaction_id.get()


@contextmanager
def interaction_context(interaction_id: str | None) -> Iterator[None]:
    """Log lines emitted inside (in this task, and tasks it starts) carry ``interaction_id``."""
    token = _interaction_id.set((interaction_id or "").strip() or None)
    try:
        yield
    finally:
        _interaction_id.reset(token)


def bind_interaction(interaction_id: str | None) -> None:
    """Set the interaction id for the rest of the current task (e.g. once a call has returned its id)."""
    _interaction_id.set((interaction_id or "").strip() or None)


# -- redaction ------------------------------------------------------------------------------------------------


def secrets_from_env(env: Mapping[str, str] | None = None) -> list[str]:
    """The secret values this process was given through its environment."""
    env = os.environ if env is None else env
    found = [env.get(name, "").strip() for name in SECRET_ENV_VARS]
    url = env.get(DATABASE_URL_ENV, "").strip()
    if url:
        found.append(_url_password(url))
    return [value for value in found if value]


def _url_password(url: str) -> str:
    """The password of ``scheme://user:password@host/...`` (no SQLAlchemy import: this runs at start-up)."""
    _scheme, sep, rest = url.partition("://")
    userinfo, at, _host = rest.rpartition("@")
    if not sep or not at:
        return ""
    _user, colon, password = userinfo.partition(":")
    return password if colon else ""


class RedactSecrets(logging.Filter):
    """Replaces known secret values in every record it sees. Attach it to a handler (it then sees every record
    that reaches that handler, whichever logger emitted it)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        value = (secret or "").strip()
        if len(value) < MIN_SECRET_CHARS:
            return
        with self._lock:
            if value not in self._secrets:
                # Longest first, so that a secret containing another is replaced whole.
                self._secrets = tuple(sorted({*self._secrets, value}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we can
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class _AttachInteraction(logging.Filter):
    """Copies the current interaction id onto the record (an explicit ``extra={"interaction_id": …}`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        iid = getattr(record, "interaction_id", None)
        if iid is None:
            iid = record.interaction_id = _interaction_id.get()
        record.interaction_tag = f" [{iid}]" if iid else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, interaction_id (when known), exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        iid = getattr(record, "interaction_id", None)
        if iid:
            entry["interaction_id"] = iid
        fields = getattr(record, "json_fields", None)
        if isinstance(fields, Mapping):
            for key, value in fields.items():
                entry.setdefault(str(key), value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


# -- set-up ---------------------------------------------------------------------------------------------------

_redactor = RedactSecrets()


def add_secret(secret: str | None) -> None:
    """Never show this value in a log line (values shorter than MIN_SECRET_CHARS are ignored)."""
    _redactor.add(secret)


def log_format_from_env(env: Mapping[str, str] | None = None) -> LogFormat:
    env = os.environ if env is None else env
    raw = env.get(LOG_FORMAT_ENV, "").strip().lower() or "text"
    if raw not in LOG_FORMATS:
        raise ValueError(f"{LOG_FORMAT_ENV} must be 'text' or 'json', got {raw!r}")
    return raw


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat | None = None,
    *,
    stream: TextIO | None = None,
    quiet: Iterable[str] = CHATTY_LOGGERS,
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) as text or JSON lines; return the handler.

    ``fmt`` None reads ``GEMINI_INTERACTIONS_LOG_FORMAT`` (default ``text``; raises ValueError when it is
    neither). Secrets from the environment are registered for redaction here; add others with ``add_secret``.
    """
    fmt = fmt or log_format_from_env()
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be 'text' or 'json', got {fmt!r}")
    for secret in secrets_from_env():
        add_secret(secret)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_redactor)
    handler.addFilter(_AttachInteraction())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    chatty_level = max(logging.WARNING, logging.getLevelName(level))
    for name in quiet:
        logging.getLogger(name).setLevel(chatty_level)
    return handler
