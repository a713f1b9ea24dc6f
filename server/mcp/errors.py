"""Every failure a tool can meet, turned into a ToolError whose text says what happened and what to do next;
and the same for resource reads (``resource_errors``: ResourceNotFoundError / ResourceError).

Our own errors (``GeminiInteractionsError``) carry a message written for people: it goes out as is.
A database that cannot be reached or written is an outage, not a bug: it is logged and answered as such.
Anything else is a bug or an outage we did not foresee: it is logged here with its traceback and answered with a generic
message, never with the exception text (it may hold paths, bodies or secrets).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError

from server.core import Forbidden, GeminiInteractionsError, NotFound, RateLimited, interaction_context

log = logging.getLogger("server.mcp")

T = TypeVar("T")

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


@contextmanager
def resource_errors(uri: str, *, missing: str) -> Iterator[None]:
    """Failures while reading ``uri`` as the errors a host shows; ``missing``: what to say for an unknown id
    (another owner's id is answered the same way)."""
    try:
        yield
    except (NotFound, Forbidden):
        raise ResourceNotFoundError(missing) from None
    except GeminiInteractionsError as exc:
        raise ResourceError(user_message(exc)) from None
    except Exception as exc:
        if not is_database_error(exc):
            raise
        log.error("reading %s: the job database failed", uri, exc_info=exc)
        raise ResourceError(DATABASE_FAILURE.format(tool=uri)) from None


def nth(items: Sequence[T], n: str, *, uri_prefix: str, what: str) -> T:
    """Item ``n`` (counted from 1) of ``items``, or a not-found that says which numbers exist."""
    number = int(n) if n.isdecimal() else 0
    if not 1 <= number <= len(items):
        choices = f"{uri_prefix}1 to {uri_prefix}{len(items)}" if items else "none"
        raise ResourceNotFoundError(f"{what} has {len(items)} of them; ask for {choices}.")
    return items[number - 1]
