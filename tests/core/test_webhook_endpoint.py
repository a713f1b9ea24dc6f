"""``POST /gemini/webhooks`` itself: what it refuses before anything is recorded (bad or missing signatures,
stale timestamps, bodies too large or too slow), what it takes and ignores, and settings that are not secrets."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.routing import Route

from server.core import WEBHOOK_PATH, ConfigurationError, Core, Settings, load_settings, webhook_endpoint

pytestmark = pytest.mark.anyio

OLD = "whsec_" + base64.b64encode(b"o" * 24).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 24).decode()


def signed(secret: str, body: bytes, *, msg: str = "msg_1", when: datetime | None = None) -> dict[str, str]:
    stamp = when or datetime.now(UTC)
    return {
        "webhook-id": msg,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg, stamp, body),
        "content-type": "application/json",
    }


def event(interaction_id: str = "v1_unknown") -> bytes:
    return json.dumps(
        {"type": "interaction.completed", "version": "v1", "data": {"id": interaction_id}}
    ).encode()


@pytest.fixture
async def http(settings_for: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(public_url="https://gi.example", webhook_secret=f"{OLD}, {NEW}")
    async with Core.running(settings) as core:
        await core.ready()
        app = Starlette(
            routes=[Route(WEBHOOK_PATH, webhook_endpoint(lambda: core.webhooks), methods=["POST"])]
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gi.test"
        ) as client:
            yield client


async def test_either_secret_of_a_rotation_is_accepted(http: httpx.AsyncClient) -> None:
    for n, secret in enumerate((OLD, NEW)):
        body = event()
        reply = await http.post(WEBHOOK_PATH, content=body, headers=signed(secret, body, msg=f"msg_{n}"))
        assert reply.status_code == 200 and reply.json()["outcome"] == "unknown"


async def test_a_replay_is_acknowledged_but_taken_once(http: httpx.AsyncClient) -> None:
    body = event()
    headers = signed(NEW, body)
    first = await http.post(WEBHOOK_PATH, content=body, headers=headers)
    again = await http.post(WEBHOOK_PATH, content=body, headers=headers)
    assert first.json()["outcome"] == "unknown" and again.json()["outcome"] == "duplicate"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("wrong secret", "no signature matches"),
        ("stale", "not within five minutes"),
        ("from the future", "not within five minutes"),
        ("no signature", "missing"),
        ("tampered body", "no signature matches"),
    ],
)
async def test_deliveries_that_do_not_verify_are_refused(
    http: httpx.AsyncClient, change: str, problem: str
) -> None:
    body = event()
    other = "whsec_" + base64.b64encode(b"x" * 24).decode()
    headers = {
        "wrong secret": signed(other, body),
        "stale": signed(NEW, body, when=datetime.now(UTC) - timedelta(minutes=6)),
        "from the future": signed(NEW, body, when=datetime.now(UTC) + timedelta(minutes=6)),
        "no signature": {k: v for k, v in signed(NEW, body).items() if k != "webhook-signature"},
        "tampered body": signed(NEW, event("v1_other")),
    }[change]
    reply = await http.post(WEBHOOK_PATH, content=body, headers=headers)
    assert reply.status_code == 401 and problem in reply.json()["error"]


async def test_bodies_too_large_are_refused_before_they_are_read(http: httpx.AsyncClient) -> None:
    huge = b'{"type": "interaction.completed", "pad": "' + b"x" * 70_000 + b'"}'
    assert (await http.post(WEBHOOK_PATH, content=huge, headers=signed(NEW, huge))).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(100):
            yield b"x" * 1000

    reply = await http.post(WEBHOOK_PATH, content=chunks(), headers=signed(NEW, b""))
    assert reply.status_code == 413


async def test_verified_events_we_cannot_use_are_acknowledged(http: httpx.AsyncClient) -> None:
    for n, body in enumerate([b"not json", b'{"type": "interaction.completed", "data": {}}', b"[]"]):
        reply = await http.post(WEBHOOK_PATH, content=body, headers=signed(NEW, body, msg=f"m{n}"))
        assert reply.status_code == 200 and reply.json()["outcome"] == "ignored"
    batch = json.dumps({"type": "batch.succeeded", "data": {"id": "batches/1"}}).encode()
    reply = await http.post(WEBHOOK_PATH, content=batch, headers=signed(NEW, batch, msg="m9"))
    assert reply.json()["outcome"] == "unknown"


async def test_before_the_core_is_running_deliveries_are_asked_again() -> None:
    app = Starlette(routes=[Route(WEBHOOK_PATH, webhook_endpoint(lambda: None), methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gi.test") as client:
        assert (await client.post(WEBHOOK_PATH, content=b"{}")).status_code == 503


def test_webhooks_need_both_settings_and_real_secrets(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not load_settings(webhook_secret=NEW).webhooks_enabled  # no public URL: nothing changes
    assert not load_settings(public_url="https://gi.example").webhooks_enabled
    both = load_settings(public_url="https://gi.example/", webhook_secret=f" {OLD} ,{NEW},")
    assert both.webhooks_enabled and both.public_url == "https://gi.example"
    assert both.webhook_secrets() == [OLD, NEW]
    leaked = "whsec_" + "!" * 30
    monkeypatch.setenv("GEMINI_INTERACTIONS_WEBHOOK_SECRET", f"{NEW},{leaked}")
    with pytest.raises(ConfigurationError, match="part 2 of GEMINI_INTERACTIONS_WEBHOOK_SECRET") as caught:
        load_settings()
    assert leaked not in str(caught.value) and NEW not in str(caught.value)
    monkeypatch.setenv("GEMINI_INTERACTIONS_WEBHOOK_SECRET", NEW)
    monkeypatch.setenv("GEMINI_INTERACTIONS_PUBLIC_URL", "gi.example")
    with pytest.raises(ConfigurationError, match="https://"):
        load_settings()
