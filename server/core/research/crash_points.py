"""Test hooks: exit the process at a named point of a research start, as ``kill -9`` would (no cleanup, no
lease released, nothing flushed but the log line that says so). Tests use them instead of timing.

    GEMINI_INTERACTIONS_TEST_HOOKS=1 GEMINI_INTERACTIONS_TEST_CRASH_AT=after_create gemini-interactions-mcp

Honoured only together with ``GEMINI_INTERACTIONS_TEST_HOOKS=1``, so a stray variable cannot stop a deployment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Literal, get_args

from ..errors import ConfigurationError

log = logging.getLogger(__name__)

TEST_HOOKS_ENV = "GEMINI_INTERACTIONS_TEST_HOOKS"
CRASH_AT_ENV = "GEMINI_INTERACTIONS_TEST_CRASH_AT"
CRASH_EXIT_CODE = 70  # EX_SOFTWARE, as the Slack bot's crash_after_post hook

# In the order a start passes them: the intent is written, then ...
CrashPoint = Literal["before_create", "after_create", "before_record"]
CRASH_POINTS: tuple[str, ...] = get_args(CrashPoint)


def armed_crash_point(env: Mapping[str, str] | None = None) -> str | None:
    """The point named in the environment, or None (always None without the test-hooks switch)."""
    env = os.environ if env is None else env
    if env.get(TEST_HOOKS_ENV) != "1":
        return None
    point = env.get(CRASH_AT_ENV, "").strip()
    if point and point not in CRASH_POINTS:
        raise ConfigurationError(f"{CRASH_AT_ENV} must be one of {', '.join(CRASH_POINTS)}, got {point!r}.")
    return point or None


def crash_here(armed: str | None, point: CrashPoint, detail: str) -> None:
    """Exit at once if ``point`` is the armed one."""
    if armed != point:
        return
    log.critical("test hook: exiting at %s (%s)", point, detail)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(CRASH_EXIT_CODE)
