"""The emulated WebhookService, driven by the real google-genai client, and its signed deliveries: verified with
the standardwebhooks library as a receiver would, and made late, twice, out of order, forged, stale or absent."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from google import genai
from google.genai import _interactions as gi
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from server.emulator import Emulator
from tests.support.webhooks import Received, Recorder, until

from .helpers import wait_terminal

pytestmark = pytest.mark.anyio

EVENTS = ["interaction.completed", "interaction.failed", "interaction.requires_action"]
AGENT = "deep-research-preview-04-2026"


def verify(secret: str, delivery: Received) -> Any:
    return Webhook(secret).verify(delivery.body, delivery.headers)


async def delivery_statuses(emu: Emulator, count: int) -> list[int | None]:
    """The statuses of the emulator's first ``count`` deliveries, once it has logged them: it logs one after the
    receiver has answered, so a test that has just seen the request may be a moment early."""
    await until(lambda: len(emu.webhooks.deliveries()) >= count, what=f"{count} logged deliveries")
    return [r.status for r in emu.webhooks.deliveries()]


async def research(client: genai.Client, topic: str = "tides") -> str:
    it = await client.aio.interactions.create(agent=AGENT, input=topic, background=True)
    return str(it.id)


async def test_an_operator_registers_lists_rotates_and_deletes_through_the_sdk(client: genai.Client) -> None:
    hooks = client.aio.webhooks
    created = await hooks.create(
        uri="https://example.com/gemini/webhooks", subscribed_events=EVENTS, name="ours"
    )
    secret = created.new_signing_secret
    assert secret and secret.startswith("whsec_") and created.state == "enabled" and created.id
    listed = await hooks.list()
    assert [w.id for w in listed.webhooks or []] == [created.id]
    assert (listed.webhooks or [])[0].new_signing_secret is None  # the secret is shown once

    rotated = await hooks.rotate_signing_secret(created.id)
    assert rotated.secret and rotated.secret != secret
    both = (await hooks.get(created.id)).signing_secrets or []
    assert len(both) == 2 and sum(s.expire_time is not None for s in both) == 1  # the old one ends in 24 h
    await hooks.rotate_signing_secret(created.id, revocation_behavior="revoke_previous_secrets_immediately")
    assert len((await hooks.get(created.id)).signing_secrets or []) == 1

    disabled = await hooks.update(created.id, state="disabled")
    assert disabled.state == "disabled"
    await hooks.delete(created.id)
    with pytest.raises(gi.NotFoundError):
        await hooks.get(created.id)


@pytest.mark.parametrize(
    ("uri", "events", "problem"),
    [
        ("http://example.com/hook", EVENTS, "https"),
        ("https://example.com/hook", ["interaction.exploded"], "Unknown event"),
        ("https://example.com/hook", [], "subscribed_events"),
    ],
)
async def test_registrations_the_service_would_refuse_are_refused(
    client: genai.Client, uri: str, events: list[str], problem: str
) -> None:
    with pytest.raises(gi.BadRequestError, match=problem):
        await client.aio.webhooks.create(uri=uri, subscribed_events=events)


async def test_a_finished_run_is_delivered_once_signed_as_standard_webhooks(
    client: genai.Client, emu: Emulator
) -> None:
    async with Recorder() as hook:
        secret = (await client.aio.webhooks.create(uri=hook.url, subscribed_events=EVENTS)).new_signing_secret
        run = await research(client)
        await wait_terminal(client, run)
        [delivery] = await hook.wait_for(1)
        event = verify(str(secret), delivery)
        assert event["type"] == "interaction.completed" and event["data"] == {"id": run}
        assert event["version"] == "v1" and event["timestamp"].endswith("Z")
        assert delivery.headers["webhook-id"].startswith("msg_")
        assert abs(int(delivery.headers["webhook-timestamp"]) - time.time()) < 5
        # A foreground answer is an interaction too: a project-level webhook hears of it.
        await client.aio.interactions.create(model="gemini-flash-latest", input="hi")
        assert len(await hook.wait_for(2)) == 2
        assert await delivery_statuses(emu, 2) == [200, 200]


async def test_during_a_rotation_every_valid_secret_signs(client: genai.Client) -> None:
    async with Recorder() as hook:
        created = await client.aio.webhooks.create(uri=hook.url, subscribed_events=EVENTS)
        new = (await client.aio.webhooks.rotate_signing_secret(str(created.id))).secret
        await wait_terminal(client, await research(client))
        [delivery] = await hook.wait_for(1)
        assert len(delivery.headers["webhook-signature"].split(" ")) == 2
        verify(str(created.new_signing_secret), delivery)
        verify(str(new), delivery)


async def test_deliveries_are_retried_with_the_same_id_until_acknowledged(
    client: genai.Client, emu: Emulator
) -> None:
    emu.config.webhook_retry_seconds = 0.05
    async with Recorder() as hook:
        hook.statuses = [500, 503]
        await client.aio.webhooks.create(uri=hook.url, subscribed_events=EVENTS)
        await wait_terminal(client, await research(client))
        deliveries = await hook.wait_for(3)
        assert len({d.headers["webhook-id"] for d in deliveries}) == 1
        assert await delivery_statuses(emu, 3) == [500, 503, 200]


async def test_a_test_can_make_deliveries_late_twice_forged_stale_or_absent(
    client: genai.Client, emu: Emulator
) -> None:
    async with Recorder() as hook:
        secret = str(
            (await client.aio.webhooks.create(uri=hook.url, subscribed_events=EVENTS)).new_signing_secret
        )

        emu.webhooks.configure({"copies": 2})
        await wait_terminal(client, await research(client))
        first, second = await hook.wait_for(2)
        assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body

        emu.webhooks.configure({"copies": 1, "forge": True})
        await wait_terminal(client, await research(client))
        forged = (await hook.wait_for(3))[2]
        with pytest.raises(WebhookVerificationError, match="signature"):
            verify(secret, forged)

        emu.webhooks.configure({"forge": False, "timestamp_skew_seconds": 600})
        await wait_terminal(client, await research(client))
        with pytest.raises(WebhookVerificationError, match="too old"):
            verify(secret, (await hook.wait_for(4))[3])

        emu.webhooks.configure({"timestamp_skew_seconds": 0, "drop": True})
        await wait_terminal(client, await research(client))
        emu.webhooks.configure({"drop": False, "delay_seconds": 0.6})
        run = await research(client)
        await wait_terminal(client, run)
        ended = time.monotonic()
        late = (await hook.wait_for(5))[4]
        assert (
            late.at - ended >= 0.5 and json.loads(late.body)["data"]["id"] == run
        )  # the dropped one never came
        assert len(hook.received) == 5


async def test_deliveries_can_arrive_out_of_order(client: genai.Client, emu: Emulator) -> None:
    async with Recorder() as hook:
        await client.aio.webhooks.create(uri=hook.url, subscribed_events=EVENTS)
        emu.webhooks.configure({"reverse_batch": 2})
        earlier = await research(client, "first [emulator:research_seconds=0.1]")
        await wait_terminal(client, earlier)
        later = await research(client, "second [emulator:research_seconds=0.1]")
        await wait_terminal(client, later)
        delivered = [json.loads(d.body)["data"]["id"] for d in await hook.wait_for(2)]
        assert delivered == [later, earlier]


async def test_the_control_endpoint_shows_webhooks_and_deliveries(
    client: genai.Client, emulator_server: Any
) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=emulator_server.url) as http:
        bad = await http.post("/_emulator/webhooks", json={"explode": True})
        assert bad.status_code == 400
        await client.aio.webhooks.create(uri="https://example.com/h", subscribed_events=EVENTS)
        shown = (await http.post("/_emulator/webhooks", json={"copies": 2})).json()
        assert shown["controls"]["copies"] == 2 and len(shown["webhooks"]) == 1
        assert (await http.delete("/_emulator/webhooks")).json()["controls"]["copies"] == 1
