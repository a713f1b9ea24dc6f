"""API keys, request validation and the Google error envelope, through the SDK and over raw HTTP."""

from __future__ import annotations

import httpx
import pytest
from google import genai
from google.genai import _interactions

from server.emulator import Emulator, EmulatorHandle

from .conftest import make_client

pytestmark = pytest.mark.anyio
AGENT = "deep-research-preview-04-2026"
MODEL = "gemini-3.8-flash"


async def test_missing_key_is_401_unauthenticated(emulator_server: EmulatorHandle, emu: Emulator) -> None:
    async with httpx.AsyncClient(base_url=emulator_server.url, timeout=5) as http:
        response = await http.post("/v1/interactions", json={"model": MODEL, "input": "hi"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 401 and error["status"] == "UNAUTHENTICATED" and "API Key" in error["message"]
    assert response.headers["content-type"].startswith("application/json")


async def test_key_in_query_string_is_accepted(emulator_server: EmulatorHandle, emu: Emulator) -> None:
    async with httpx.AsyncClient(base_url=emulator_server.url, timeout=5) as http:
        response = await http.post("/v1beta/interactions?key=abc", json={"model": MODEL, "input": "hi"})
    assert response.status_code == 200
    assert response.json()["status"] == "completed"


async def test_bad_key_is_400_api_key_invalid(emulator_server: EmulatorHandle, emu: Emulator) -> None:
    bad = make_client(emulator_server.url, api_key="bad-key")
    try:
        with pytest.raises(_interactions.BadRequestError) as err:
            await bad.aio.interactions.create(model=MODEL, input="hi")
    finally:
        await bad.aio.aclose()
    error = err.value.body["error"]
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["reason"] == "API_KEY_INVALID"


async def test_free_key_gets_429_on_deep_research(emulator_server: EmulatorHandle, emu: Emulator) -> None:
    free = make_client(emulator_server.url, api_key="free-tier-key")
    try:
        with pytest.raises(_interactions.RateLimitError) as err:
            await free.aio.interactions.create(agent=AGENT, input="research", background=True)
        assert err.value.body["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert "free tier" in err.value.body["error"]["message"]
        assert err.value.response.headers["retry-after"] == "1"
        plain = await free.aio.interactions.create(model=MODEL, input="text still works")
        assert plain.status == "completed"
    finally:
        await free.aio.aclose()


async def test_agent_rules(client: genai.Client) -> None:
    with pytest.raises(_interactions.BadRequestError) as no_background:
        await client.aio.interactions.create(agent=AGENT, input="research")
    assert "background=true" in no_background.value.body["error"]["message"]
    with pytest.raises(_interactions.BadRequestError) as with_system:
        await client.aio.interactions.create(
            agent=AGENT, input="research", background=True, system_instruction="be terse"
        )
    assert "system_instruction" in with_system.value.body["error"]["message"]


async def test_model_and_agent_together_is_400(emulator_server: EmulatorHandle, emu: Emulator) -> None:
    # the SDK refuses this itself (ValueError), so send it raw
    async with httpx.AsyncClient(
        base_url=emulator_server.url, headers={"x-goog-api-key": "k"}, timeout=5
    ) as http:
        response = await http.post("/v1/interactions", json={"model": MODEL, "agent": AGENT, "input": "x"})
        assert response.status_code == 400
        assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
        bad_json = await http.post(
            "/v1/interactions", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert bad_json.status_code == 400 and "Invalid JSON payload" in bad_json.json()["error"]["message"]
        bad_ratio = await http.post(
            "/v1/interactions",
            json={
                "model": "gemini-3.1-flash-image",
                "input": "x",
                "response_format": {"type": "image", "aspect_ratio": "7:3"},
            },
        )
        assert bad_ratio.status_code == 400
        unknown = await http.get("/v1/nothing-here")
        assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"


async def test_colon_cancel_and_cancel_of_finished(emulator_server: EmulatorHandle, emu: Emulator) -> None:
    async with httpx.AsyncClient(
        base_url=emulator_server.url, headers={"x-goog-api-key": "k"}, timeout=5
    ) as http:
        job = (
            await http.post(
                "/v1beta/interactions",
                json={"agent": AGENT, "input": "[emulator:stuck] research", "background": True},
            )
        ).json()
        cancelled = await http.post(f"/v1beta/interactions/{job['id']}:cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        again = await http.post(f"/v1beta/interactions/{job['id']}/cancel")
        assert again.status_code == 400 and again.json()["error"]["status"] == "FAILED_PRECONDITION"
        missing = await http.post("/v1/interactions/v1_doesnotexist/cancel")
        assert missing.status_code == 404
    assert emu.stats.cancelled_ids() == [job["id"]]


async def test_unknown_previous_interaction_is_404(client: genai.Client) -> None:
    with pytest.raises(_interactions.NotFoundError) as err:
        await client.aio.interactions.create(model=MODEL, input="x", previous_interaction_id="v1_unknown")
    assert err.value.body["error"]["message"] == "Interaction v1_unknown not found."
    assert not isinstance(err.value, genai.errors.APIError)
