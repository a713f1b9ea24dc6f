"""Who owns an interaction, and who may use an id that someone created.

Owners are strings in separate namespaces, so that a token named ``alice`` and an OAuth subject ``alice`` are two
different people:

- ``token:<name>``: a bearer token named in GEMINI_INTERACTIONS_MCP_TOKENS_FILE; the one
  GEMINI_INTERACTIONS_MCP_TOKEN is ``token:_single`` (a name the tokens file cannot hold: names start with a
  letter or digit);
- ``oidc:<issuer>#<sub>``: an OAuth access token from that issuer, for that subject;
- ``slack:<team>:<user>``: a Slack user of a workspace;
- ``None``: the local user (stdio, or HTTP on a loopback address without a token). Nothing is checked for them.

Every interaction id we create (answers, images, research runs, each continuation hop) is recorded with its
owner. An MCP caller with an owner may only continue, refine, read or cancel its own; another owner's id gets the
same "not found" as an id nobody created. The Slack bot continues only ids from its own thread memory and sees
its workspace's research runs (``research/service.py``), so its ids are recorded but not checked here.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from . import errors
from .domain import Origin

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

#: What a token's name may be (tokens file, ``gemini-interactions-admin token-hash``).
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
TOKEN_NAME_RULE = "letters, digits, '.', '_', '@' or '-', starting with a letter or digit (max 64)"
#: The name of the one GEMINI_INTERACTIONS_MCP_TOKEN; TOKEN_NAME cannot match it.
SINGLE_TOKEN_NAME = "_single"

InteractionKind = Literal["answer", "image", "research"]


def token_owner(name: str) -> str:
    return f"token:{name}"


def oidc_owner(issuer: str, subject: str) -> str:
    return f"oidc:{issuer}#{subject}"


def slack_owner(team_id: str, user_id: str) -> str:
    return f"slack:{team_id}:{user_id}"


def token_digest(token: str) -> str:
    """What the tokens file keeps of a token: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def checks_ids(viewer: Origin) -> bool:
    """Whether ``viewer`` may use only the interaction ids recorded as its own (an MCP caller with an owner)."""
    return viewer.source == "mcp" and viewer.owner is not None


def unknown_interaction(interaction_id: str) -> errors.NotFound:
    """The one answer for an id that is not the caller's, whether nobody or somebody else created it."""
    return errors.NotFound(
        f"No interaction {interaction_id.strip()!r} of yours is known here. Pass an interaction_id that ask, "
        "continue_thread, generate_image or start_research returned to you (Gemini keeps them 55 days on a "
        "paid key, 1 day on the free tier), or start a new conversation with ask."
    )


async def ensure_own(store: Store, interaction_id: str, viewer: Origin) -> None:
    """Raise ``unknown_interaction`` unless ``viewer`` may continue ``interaction_id``."""
    if not checks_ids(viewer):
        return
    owner = await store.interaction_owner(interaction_id.strip())
    if owner is None or owner.owner != viewer.owner:
        raise unknown_interaction(interaction_id)


async def record(store: Store, ids: Iterable[str], kind: InteractionKind, owner: Origin) -> None:
    """Record the ids of an interaction (every hop) under ``owner``'s name."""
    await store.record_interactions([i for i in dict.fromkeys(ids) if i], owner=owner.owner, kind=kind)
