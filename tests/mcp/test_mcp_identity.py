"""One identity per person over HTTP: named tokens and OAuth access tokens, each id scoped to its owner.

The server runs in-process on a loopback port as ``--transport http`` builds it; OAuth tokens are JWTs signed by
keys that ``tests/support/identity.py`` makes, served with a discovery document and a JWKS on loopback.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest
from mcp import Client, MCPError
from mcp.shared.exceptions import MCPDeprecationWarning
from pydantic import SecretStr

from server.core import Settings, bind
from server.mcp.access import NO_ISSUER, access_for
from server.mcp.app import build_server
from server.mcp.auth import http_security
from server.mcp.routes import http_app
from tests.support.identity import IdentityProvider, SigningKey, tokens_file
from tests.support.legacy_store import legacy_database
from tests.support.mcp import MCP_HEADERS, http_client, initialize_request, text_of
from tests.support.serving import serving

pytestmark = pytest.mark.anyio

ALICE = "alice-token-" + "a" * 32
BOB = "bob-token-" + "b" * 32
QUICK = "[emulator:research_seconds=0.2]"
INITIALIZE = initialize_request("identity-test")
METADATA = "/.well-known/oauth-protected-resource/mcp"


@asynccontextmanager
async def mcp_over_http(settings: Settings) -> AsyncIterator[str]:
    """The MCP server on a free loopback port with the access rules ``settings`` ask for; yields its base URL.
    Without GEMINI_INTERACTIONS_PUBLIC_URL, its public URL is the loopback address it is bound to."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    access = access_for(settings, "127.0.0.1", port)
    security = http_security("127.0.0.1", port, access)
    server = build_server(settings, transport="http", security=security)
    async with serving(
        http_app(server, host="127.0.0.1", security=security, settings=settings), sock
    ) as base:
        yield base


async def post_initialize(base: str, token: str | None) -> httpx.Response:
    headers = MCP_HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})
    async with httpx.AsyncClient(timeout=20) as client:
        return await client.post(f"{base}/mcp", json=INITIALIZE, headers=headers)


async def finished(client: Client, iid: str) -> dict[str, Any]:
    with anyio.fail_after(30):
        while True:
            status = (await client.call_tool("research_status", {"interaction_id": iid})).structured_content
            assert status is not None
            if status["status"] != "in_progress":
                return status
            await anyio.sleep(0.05)


async def error_of(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} answered another owner's id: {text_of(result)}"
    return text_of(result).replace(str(arguments.get("interaction_id")), "<id>")


async def watch_error(client: Client, iid: str, mode: str) -> str:
    uri = f"research://{iid}"
    with pytest.raises(MCPError) as refused:
        if mode == "legacy":
            with pytest.warns(MCPDeprecationWarning):
                await client.subscribe_resource(uri)
        else:
            async with client.listen(resource_subscriptions=[uri]):
                pass
    return str(refused.value).replace(iid, "<id>")


async def refusals(
    client: Client, mode: str, answer: str, image: str, research: str, plan: str
) -> dict[str, str]:
    """What a caller hears for each kind of id: every answer with the id itself blanked out."""
    reads = {
        "read": f"research://{research}",
        "read chart": f"research://{research}/images/1",
        "read image": f"image://{image}",
        "read image file": f"image://{image}/1",
    }
    read: dict[str, str] = {}
    for what, uri in reads.items():
        try:
            await client.read_resource(uri)
            read[what] = "read"
        except MCPError as exc:
            read[what] = str(exc).replace(research, "<id>").replace(image, "<id>")
    return read | {
        "continue answer": await error_of(
            client, "continue_thread", {"interaction_id": answer, "prompt": "Go on"}
        ),
        "continue image": await error_of(
            client, "continue_thread", {"interaction_id": image, "prompt": "Go on"}
        ),
        "continue research": await error_of(
            client, "continue_thread", {"interaction_id": research, "prompt": "Summarise"}
        ),
        "refine image": await error_of(
            client, "generate_image", {"prompt": "bluer", "interaction_id": image}
        ),
        "refine answer": await error_of(
            client, "generate_image", {"prompt": "draw it", "interaction_id": answer}
        ),
        "status": await error_of(client, "research_status", {"interaction_id": research}),
        "cancel": await error_of(client, "cancel_research", {"interaction_id": research}),
        "approve": await error_of(client, "approve_research", {"interaction_id": plan}),
        "watch": await watch_error(client, research, mode),
    }


async def test_two_named_tokens_cannot_use_each_others_ids(
    settings: Settings, tmp_path: Path, mode: str
) -> None:
    settings = settings.model_copy(update={"mcp_tokens_file": tokens_file(tmp_path, alice=ALICE, bob=BOB)})
    async with mcp_over_http(settings) as base:
        url = f"{base}/mcp"
        with anyio.fail_after(120):
            async with http_client(url, ALICE, mode) as alice:
                answer = (await alice.call_tool("ask", {"prompt": "Tides"})).structured_content[
                    "interaction_id"
                ]
                image = (await alice.call_tool("generate_image", {"prompt": "a fox"})).structured_content[
                    "interaction_id"
                ]
                started = await alice.call_tool("start_research", {"prompt": f"Heat pumps {QUICK}"})
                research = started.structured_content["interaction_id"]
                running = await alice.call_tool("start_research", {"prompt": "Stuck [emulator:stuck]"})
                stuck = running.structured_content["interaction_id"]
                planned = await alice.call_tool(
                    "start_research", {"prompt": f"Kelp forests {QUICK}", "plan_first": True}
                )
                plan = planned.structured_content["interaction_id"]
                assert (await finished(alice, research))["status"] == "completed"
                assert (await finished(alice, plan))["status"] == "awaiting_approval"
                own = {
                    "continue answer": await alice.call_tool(
                        "continue_thread", {"interaction_id": answer, "prompt": "And the moon?"}
                    ),
                    "refine image": await alice.call_tool(
                        "generate_image", {"prompt": "bluer", "interaction_id": image}
                    ),
                    "continue research": await alice.call_tool(
                        "continue_thread", {"interaction_id": research, "prompt": "Summarise"}
                    ),
                }
                report = await alice.read_resource(f"research://{research}")
                drawn = await alice.read_resource(f"image://{image}/1")
                alices = await alice.call_tool("list_research", {})
            async with http_client(url, BOB, mode) as bob:
                theirs = await refusals(bob, mode, answer, image, research, plan)
                unknown = await refusals(
                    bob, mode, "v1_made-up-1", "v1_made-up-2", "v1_made-up-3", "v1_made-up-4"
                )
                cancel_running = await error_of(bob, "cancel_research", {"interaction_id": stuck})
                bobs = await bob.call_tool("list_research", {})
            async with http_client(url, ALICE, mode) as alice:
                still = (
                    await alice.call_tool("research_status", {"interaction_id": stuck})
                ).structured_content
                await alice.call_tool("cancel_research", {"interaction_id": stuck})
                approved = await alice.call_tool("approve_research", {"interaction_id": plan})
                ran = await finished(alice, plan)
    assert not any(result.is_error for result in own.values()), {k: text_of(v) for k, v in own.items()}
    assert report.contents[0].text.startswith("# ") and drawn.contents[0].mime_type == "image/png"
    assert {job["interaction_id"] for job in alices.structured_content["jobs"]} == {research, stuck, plan}
    # Bob hears exactly what he hears for ids nobody created: nothing tells him Alice's exist.
    assert theirs == unknown
    assert "of yours is known here" in theirs["continue answer"] and "No research run" in theirs["status"]
    assert "No research run" in cancel_running and still["status"] == "in_progress"
    assert bobs.structured_content["jobs"] == []
    # Bob's approve_research ran nothing: the plan still waited for Alice, whose approval runs it.
    assert not approved.is_error, text_of(approved)
    assert ran["status"] == "completed"


async def test_a_token_name_and_an_oauth_subject_are_different_people(
    settings: Settings, tmp_path: Path, mode: str
) -> None:
    """Namespaces: the token named ``alice`` and the subject ``alice`` share a store, not their ids."""
    named = settings.model_copy(update={"mcp_tokens_file": tokens_file(tmp_path, alice=ALICE)})
    async with mcp_over_http(named) as base, http_client(f"{base}/mcp", ALICE, mode) as client:
        answer = (await client.call_tool("ask", {"prompt": "Hello"})).structured_content["interaction_id"]
    async with IdentityProvider().running() as idp:
        oauth = settings.model_copy(update={"oauth_issuer": idp.issuer})
        async with mcp_over_http(oauth) as base:
            token = idp.token("alice", f"{base}/mcp")
            async with http_client(f"{base}/mcp", token, mode) as client:
                refused = await error_of(
                    client, "continue_thread", {"interaction_id": answer, "prompt": "Hi"}
                )
                fresh = await client.call_tool("ask", {"prompt": "Hello"})
                again = await client.call_tool(
                    "continue_thread",
                    {"interaction_id": fresh.structured_content["interaction_id"], "prompt": "Again"},
                )
    assert "of yours is known here" in refused
    assert not again.is_error, text_of(again)


@pytest.fixture
async def oauth_server(settings: Settings) -> AsyncIterator[tuple[IdentityProvider, str]]:
    async with IdentityProvider().running() as idp:
        async with mcp_over_http(settings.model_copy(update={"oauth_issuer": idp.issuer})) as base:
            yield idp, base


async def test_jwts_that_are_not_for_us_get_401(oauth_server: tuple[IdentityProvider, str]) -> None:
    idp, base = oauth_server
    audience = f"{base}/mcp"
    stranger = SigningKey(kid="key-1")  # same kid as the provider's, another key: a forged signature
    tokens = {
        "valid": idp.token("carol", audience),
        "no token": None,
        "not a JWT": "s3cret-but-not-a-jwt-0123456789",
        "expired": idp.token("carol", audience, lifetime=-120),
        "not yet valid": idp.token("carol", audience, nbf=int(time.time()) + 3600),
        "wrong audience": idp.token("carol", "https://other.example.com/mcp"),
        "wrong issuer": idp.token("carol", audience, issuer="https://evil.example.com"),
        "wrongly signed": idp.token("carol", audience, key=stranger),
        "unknown key": idp.token("carol", audience, key=SigningKey(kid="key-unknown")),
        "no subject": idp.token("", audience),
        "shared secret": jwt.encode(
            idp.claims("carol", audience), "s" * 32, algorithm="HS256", headers={"kid": "key-1"}
        ),
        "unsigned": jwt.encode(idp.claims("carol", audience), "", algorithm="none", headers={"kid": "key-1"}),
    }
    statuses = {name: (await post_initialize(base, token)).status_code for name, token in tokens.items()}
    assert statuses == {name: 200 if name == "valid" else 401 for name in tokens}


async def test_oauth_metadata_names_the_issuer_and_this_server(
    oauth_server: tuple[IdentityProvider, str],
) -> None:
    idp, base = oauth_server
    refused = await post_initialize(base, None)
    async with httpx.AsyncClient(timeout=10) as client:
        metadata = await client.get(f"{base}{METADATA}")
        no_as = await client.get(f"{base}/.well-known/oauth-authorization-server")
    assert refused.status_code == 401
    assert f'resource_metadata="{base}{METADATA}"' in refused.headers["www-authenticate"]
    assert metadata.status_code == 200
    document = metadata.json()
    assert document["resource"] == f"{base}/mcp"
    assert document["authorization_servers"] == [idp.issuer]
    assert no_as.status_code == 404  # we are a resource server, not an authorization server


async def test_public_url_is_what_oauth_metadata_names(settings: Settings) -> None:
    """Behind a proxy: the metadata and WWW-Authenticate name the public URL, and its audience is the default."""
    async with IdentityProvider().running() as idp:
        public = "https://mcp.example.com"
        oauth = settings.model_copy(update={"oauth_issuer": idp.issuer, "public_url": public + "/"})
        async with mcp_over_http(oauth) as base:
            refused = await post_initialize(base, None)
            async with httpx.AsyncClient(timeout=10) as client:
                document = (await client.get(f"{base}{METADATA}")).json()
            accepted = await post_initialize(base, idp.token("dave", f"{public}/mcp"))
            local_audience = await post_initialize(base, idp.token("dave", f"{base}/mcp"))
    assert f'resource_metadata="{public}{METADATA}"' in refused.headers["www-authenticate"]
    assert "0.0.0.0" not in refused.headers["www-authenticate"]
    assert document["resource"] == f"{public}/mcp" and document["authorization_servers"] == [idp.issuer]
    assert accepted.status_code == 200 and local_audience.status_code == 401


@pytest.mark.parametrize("kind", ["single", "named", "none"])
async def test_bearer_tokens_advertise_no_authorization_server(
    settings: Settings, tmp_path: Path, kind: str
) -> None:
    updates: dict[str, dict[str, Any]] = {
        "single": {"mcp_token": SecretStr(ALICE)},
        "named": {"mcp_tokens_file": tokens_file(tmp_path, alice=ALICE)},
        "none": {},
    }
    async with mcp_over_http(settings.model_copy(update=updates[kind])) as base:
        refused = await post_initialize(base, None)
        accepted = await post_initialize(base, ALICE)
        async with httpx.AsyncClient(timeout=10) as client:
            documents = [
                await client.get(f"{base}{path}")
                for path in (
                    METADATA,
                    "/.well-known/oauth-protected-resource",
                    "/.well-known/oauth-authorization-server",
                )
            ]
    assert [d.status_code for d in documents] == [404, 404, 404]
    assert accepted.status_code == 200
    if kind == "none":
        assert refused.status_code == 200  # loopback without tokens: the local user, as before
        return
    header = refused.headers["www-authenticate"]
    assert refused.status_code == 401 and header.startswith("Bearer")
    assert "resource_metadata" not in header and NO_ISSUER not in header and "0.0.0.0" not in header


async def test_legacy_single_token_runs_stay_readable(settings: Settings, mode: str) -> None:
    """Runs started with the single token before owners had namespaces are still its own, end to end."""
    await legacy_database(settings.resolved_database_url())
    async with mcp_over_http(settings.model_copy(update={"mcp_token": SecretStr(ALICE)})) as base:
        async with http_client(f"{base}/mcp", ALICE, mode) as client:
            listed = await client.call_tool("list_research", {})
            status = await client.call_tool("research_status", {"interaction_id": "v1_legacy-token-run"})
    assert [job["interaction_id"] for job in listed.structured_content["jobs"]] == ["v1_legacy-token-run"]
    assert not status.is_error and status.structured_content["status"] == "completed"
