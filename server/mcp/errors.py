"""Every failure a tool can meet, turned into a ToolError whose text says what happened and what to do next.

Our own errors (``GeminiInteractionsError``) carry a message written for people: it goes out as is.
A database that cannot be reached or written is an outage, not a bug: it is logged and answered as such.
Anything else is a bug or an outage we did not foresee: it is logged here with its traceback and answered with a generic
message, never with the exception text (it may hold paths, bodies or secrets).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError

from server.core import GeminiInteractionsError, RateLimited, interaction_context

log = logging.getLogger("server.mcp")

GENERIC_FAILURE = (
    "The server hit an unexpected problem while running {tool} (details are in the server log). "
    "Try again; if it keeps failing, restart the MCP server or try a simpler request."
)
DATABASE_FAILURE = (
    "The server's job database could not be reached or written while running {tool} (details are in the "
    "server log). Try again in a moment; if it keeps failing, the operator should check "
    "GEMINI_INTERACTIONS_DATABASE_URL / GEMINI_INTERACTIONS_DATA_DIR (disk space, permissions, database up)."
)


def user_message(exc: GeminiInteractionsError) -> str:
    message = str(exc).strip() or exc.__class__.__name__
    if isinstance(exc, RateLimited) and exc.retry_after is not None and "retry" not in message.lower():
        message = f"{message} Retry after {exc.retry_after:g} s."
    return message


def is_database_error(exc: BaseException) -> bool:
    """SQLAlchemy's error for a failed statement or connection (looked up lazily: it may not be imported yet)."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.DBAPIError)


@contextmanager
def tool_errors(tool: str, interaction_id: str | None = None) -> Iterator[None]:
    """Run a tool body; re-raise failures as ToolError (cancellation and ToolError pass through).

    Log lines inside carry ``interaction_id`` when the call names one.
    """
    with interaction_context(interaction_id):
        try:
            yield
        except ToolError:
            raise
        except GeminiInteractionsError as exc:
            raise ToolError(user_message(exc)) from None
        except Exception as exc:
            if is_database_error(exc):
                log.error("tool %s: the job database failed: %s", tool, exc.__class__.__name__, exc_info=exc)
                raise ToolError(DATABASE_FAILURE.format(tool=tool)) from None
            log.exception("tool %s failed unexpectedly", tool)
            raise ToolError(GENERIC_FAILURE.format(tool=tool)) from None
