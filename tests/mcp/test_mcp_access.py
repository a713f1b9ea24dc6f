"""The access rules behind HTTP sign-in: settings that cannot be served, the tokens file, the JWT verifier's key
cache, an identity provider that cannot be reached, and the command started on each."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.types import CallToolResult
from pydantic import SecretStr

from server.core import Settings, bind, token_digest, url_of
from server.mcp.access import AccessError, access_for, bearer_access
from server.mcp.auth import Access
from server.mcp.oauth import JwtVerifier
from server.mcp.tokens import TokenVerifier
from tests.support.env import REPO, SCRIPTS, TEST_KEY, free_port, host_env
from tests.support.identity import IdentityProvider, SigningKey, tokens_file
from tests.support.mcp import MCP_HEADERS, http_client, initialize_request, server_command, text_of
from tests.support.processes import mcp_http_process

pytestmark = pytest.mark.anyio

ALICE = "alice-token-" + "a" * 32
BOB = "bob-token-" + "b" * 32
INITIALIZE = initialize_request("access-test")


def access_error(settings: Settings, host: str = "127.0.0.1") -> str:
    with pytest.raises(AccessError) as raised:
        access_for(settings, host, 8000)
    return str(raised.value)


def test_settings_that_cannot_be_served_say_what_to_set(settings: Settings, tmp_path: Path) -> None:
    issuer = "https://idp.example.com/realms/acme"
    oauth = settings.model_copy(update={"oauth_issuer": issuer})
    assert "GEMINI_INTERACTIONS_PUBLIC_URL" in access_error(oauth, "0.0.0.0")
    assert "GEMINI_INTERACTIONS_PUBLIC_URL" in access_error(oauth, "::")
    assert "not a URL clients can reach" in access_error(
        oauth.model_copy(update={"public_url": "http://0.0.0.0:8000"})
    )
    assert "choose one" in access_error(oauth.model_copy(update={"mcp_token": SecretStr(ALICE)}))
    assert "https://" in access_error(settings.model_copy(update={"oauth_issuer": "http://idp.example.com"}))
    missing = settings.model_copy(update={"mcp_tokens_file": tmp_path / "absent"})
    assert "cannot be read" in access_error(missing)
    bad = tmp_path / "bad"
    for text, expected in [
        ("alice " + "a" * 64, "line 1: expected 'name: <sha256 hex>'"),
        ("alice: " + "a" * 63, "64 hex digits"),
        ("_single: " + "a" * 64, "not a usable name"),
        (f"a: {'a' * 64}\na: {'b' * 64}", "named twice"),
        (f"a: {'a' * 64}\nb: {'a' * 64}", "same token"),
        ("# nobody yet\n", "names no token"),
    ]:
        bad.write_text(text)
        assert expected in access_error(settings.model_copy(update={"mcp_tokens_file": bad}))

    # Behind a proxy with a public URL, a wildcard bind is fine; its host is accepted by the rebinding checks.
    served = access_for(oauth.model_copy(update={"public_url": "https://mcp.example.com"}), "0.0.0.0", 8000)
    assert isinstance(served, Access)
    assert str(served.auth.resource_server_url) == "https://mcp.example.com/mcp"


async def test_named_and_single_tokens_name_their_owners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.mcp import tokens

    path = tokens_file(tmp_path, alice=ALICE)
    verifier = bearer_access(BOB, path).verifier
    assert isinstance(verifier, TokenVerifier)
    assert verifier.owner_of(ALICE) == "token:alice" and verifier.owner_of(BOB) == "token:_single"
    assert verifier.owner_of("alice") is None and verifier.owner_of("") is None

    # The file is read again when it changes: a new person works and a removed one no longer does, no restart.
    monkeypatch.setattr(tokens, "RELOAD_CHECK_SECONDS", 0.0)
    carol = "carol-token-" + "c" * 32
    path.write_text(f"carol: {token_digest(carol)}\n")
    assert verifier.owner_of(carol) == "token:carol" and verifier.owner_of(ALICE) is None
    path.write_text("carol: not-a-hash\n")  # a broken edit keeps the tokens read before
    assert verifier.owner_of(carol) == "token:carol"


async def test_keys_are_cached_and_fetched_again_for_a_new_key() -> None:
    async with IdentityProvider().running() as idp:
        audience = "https://mcp.example.com/mcp"
        verifier = JwtVerifier(idp.issuer, audience, refresh_cooldown=0)
        for subject in ("a", "b", "c"):
            token = await verifier.verify_token(idp.token(subject, audience))
            assert token is not None and token.owner == f"oidc:{idp.issuer}#{subject}"
        assert idp.jwks_fetches == 1
        rolled = idp.rotate()
        assert await verifier.verify_token(idp.token("d", audience, key=rolled)) is not None
        assert idp.jwks_fetches == 2
        assert await verifier.verify_token(idp.token("e", audience)) is not None  # the old key still works
        assert idp.jwks_fetches == 2

        slow = JwtVerifier(
            idp.issuer, audience
        )  # with the default cooldown, unknown kids cannot hammer the IdP
        assert await slow.verify_token(idp.token("f", audience)) is not None
        fetched = idp.jwks_fetches
        for n in range(5):
            assert await slow.verify_token(idp.token("g", audience, key=SigningKey(kid=f"bogus-{n}"))) is None
        assert idp.jwks_fetches == fetched


async def test_a_jwks_url_given_needs_no_discovery_document() -> None:
    async with IdentityProvider().running() as idp:
        issuer, audience = "https://sso.example.com/realms/acme", "https://mcp.example.com/mcp"
        verifier = JwtVerifier(issuer, audience, jwks_url=f"{idp.issuer}/jwks.json")
        accepted = await verifier.verify_token(idp.token("frank", audience, issuer=issuer))
    assert accepted is not None and accepted.owner == f"oidc:{issuer}#frank"
    assert accepted.subject == "frank" and accepted.resource == audience


async def test_an_unreachable_identity_provider_refuses_tokens_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sock = bind("127.0.0.1", 0)
    issuer = url_of(sock)
    sock.close()  # nothing listens there
    verifier = JwtVerifier(issuer, "https://mcp.example.com/mcp")
    with anyio.fail_after(30):
        assert await verifier.verify_token("a.b.c") is None
    assert "GEMINI_INTERACTIONS_OAUTH_ISSUER" in caplog.text


def make_token(name: str) -> tuple[str, str]:
    """``gemini-interactions-admin token-hash <name>`` as an operator runs it: (the plain token, the file line)."""
    made = subprocess.run(
        [str(SCRIPTS / "gemini-interactions-admin"), "token-hash", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    announced, line = made.stdout.strip().splitlines()
    return announced.rsplit(": ", 1)[1], line


async def post_initialize(url: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=20) as client:
        return await client.post(
            url, json=INITIALIZE, headers=MCP_HEADERS | {"Authorization": f"Bearer {token}"}
        )


async def continue_as(url: str, token: str, answer: str) -> CallToolResult:
    async with http_client(url, token) as client:
        return await client.call_tool("continue_thread", {"interaction_id": answer, "prompt": "Go on"})


async def ask_as(url: str, token: str) -> str:
    async with http_client(url, token) as client:
        result = await client.call_tool("ask", {"prompt": "What is a tide?"})
    assert result.structured_content is not None, text_of(result)
    return str(result.structured_content["interaction_id"])


async def test_the_command_serves_named_tokens_made_by_token_hash(emulator: Any, tmp_path: Path) -> None:
    """End to end as an operator does it: token-hash per person, the lines into the file, the server started on
    it; each person's ids are their own."""
    (erin, erins_line), (frank, franks_line) = make_token("erin"), make_token("frank")
    path = tmp_path / "tokens"
    path.write_text(f"{erins_line}\n{franks_line}\n")
    env = host_env(
        GEMINI_API_KEY=TEST_KEY,
        GOOGLE_GEMINI_BASE_URL=emulator.url,
        GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
        GEMINI_INTERACTIONS_MCP_TOKENS_FILE=str(path),
    )
    with mcp_http_process(env, tmp_path / "server.log") as server, anyio.fail_after(120):
        wrong = await post_initialize(server.url, f"{erin[:-1]}x")
        answer = await ask_as(server.url, erin)
        franks = await continue_as(server.url, frank, answer)
        erins = await continue_as(server.url, erin, answer)
    assert wrong.status_code == 401
    assert franks.is_error and "of yours is known here" in text_of(franks)
    assert not erins.is_error, text_of(erins)
    assert "HTTP callers sign in with named tokens" in server.output()
    assert erin not in server.output() and frank not in server.output()


async def test_the_command_serves_oauth_access_tokens(emulator: Any, tmp_path: Path) -> None:
    """End to end with GEMINI_INTERACTIONS_OAUTH_ISSUER: the provider's JWTs for this server sign in, others get
    401, the metadata names the issuer, and each subject's ids are their own."""
    async with IdentityProvider().running() as idp:
        env = host_env(
            GEMINI_API_KEY=TEST_KEY,
            GOOGLE_GEMINI_BASE_URL=emulator.url,
            GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path / "data"),
            GEMINI_INTERACTIONS_OAUTH_ISSUER=idp.issuer,
        )
        with mcp_http_process(env, tmp_path / "server.log") as server, anyio.fail_after(120):
            base = server.url.removesuffix("/mcp")
            carol, dave = idp.token("carol", server.url), idp.token("dave", server.url)
            refused = {
                "wrong audience": await post_initialize(server.url, idp.token("carol", f"{base}/other")),
                "expired": await post_initialize(server.url, idp.token("carol", server.url, lifetime=-120)),
                "wrongly signed": await post_initialize(
                    server.url, idp.token("carol", server.url, key=SigningKey(kid="key-1"))
                ),
            }
            async with httpx.AsyncClient(timeout=20) as client:
                metadata = (await client.get(f"{base}/.well-known/oauth-protected-resource/mcp")).json()
            answer = await ask_as(server.url, carol)
            daves = await continue_as(server.url, dave, answer)
            carols = await continue_as(server.url, carol, answer)
    assert {what: r.status_code for what, r in refused.items()} == dict.fromkeys(refused, 401)
    assert (
        f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"'
        in (refused["expired"].headers["www-authenticate"])
    )
    assert metadata["resource"] == server.url and metadata["authorization_servers"] == [idp.issuer]
    assert daves.is_error and "of yours is known here" in text_of(daves)
    assert not carols.is_error, text_of(carols)
    assert f"HTTP callers sign in with OAuth access tokens from {idp.issuer}" in server.output()
    assert carol not in server.output()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"GEMINI_INTERACTIONS_OAUTH_ISSUER": "https://sso.example.com/realms/acme"},
            "GEMINI_INTERACTIONS_PUBLIC_URL",
        ),
        (
            {
                "GEMINI_INTERACTIONS_OAUTH_ISSUER": "https://sso.example.com/realms/acme",
                "GEMINI_INTERACTIONS_MCP_TOKEN": "x" * 40,
            },
            "choose one",
        ),
        ({"GEMINI_INTERACTIONS_MCP_TOKENS_FILE": "/nonexistent/tokens"}, "cannot be read"),
    ],
    ids=["oauth-without-public-url", "oauth-and-token", "missing-tokens-file"],
)
def test_the_command_refuses_identity_settings_it_cannot_serve(
    tmp_path: Path, extra: dict[str, str], expected: str
) -> None:
    env = host_env(GEMINI_API_KEY=TEST_KEY, GEMINI_INTERACTIONS_DATA_DIR=str(tmp_path), **extra)
    args = server_command("--transport", "http", "--host", "0.0.0.0", "--port", str(free_port()))
    result = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and expected in result.stderr, result.stderr
