"""``gemini-interactions-admin webhook …`` as a real process against the emulator: register prints the secret
once, list shows it, rotate gives a second secret that signs beside the first, delete ends it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from server.emulator import EmulatorHandle
from tests.support.env import TEST_KEY, host_env

ADMIN = [sys.executable, "-c", "from server.admin.cli import main; main()"]


@pytest.fixture
def gemini(emulator: EmulatorHandle) -> Iterator[EmulatorHandle]:
    yield emulator
    emulator.emulator.webhooks.reset()


def admin(gemini: EmulatorHandle, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = host_env(GEMINI_API_KEY=TEST_KEY, GOOGLE_GEMINI_BASE_URL=gemini.url, **env)
    return subprocess.run(
        [*ADMIN, "webhook", *args], capture_output=True, text=True, timeout=60, env=environment
    )


def test_register_list_rotate_and_delete(gemini: EmulatorHandle) -> None:
    done = admin(
        gemini, "register", "--name", "prod", GEMINI_INTERACTIONS_PUBLIC_URL="https://gi.example.com/"
    )
    assert done.returncode == 0, done.stderr
    assert "https://gi.example.com/gemini/webhooks" in done.stdout
    [line] = [x for x in done.stdout.splitlines() if x.startswith("GEMINI_INTERACTIONS_WEBHOOK_SECRET=")]
    secret = line.split("=", 1)[1]
    assert secret.startswith("whsec_") and secret not in done.stderr
    [hook] = gemini.emulator.webhooks.snapshot()["webhooks"]
    assert hook["subscribed_events"] == [
        "interaction.completed",
        "interaction.failed",
        "interaction.requires_action",
    ]

    listed = admin(gemini, "list")
    assert listed.returncode == 0 and hook["id"] in listed.stdout and "prod" in listed.stdout
    assert secret not in listed.stdout  # only Gemini's truncated form

    rotated = admin(gemini, "rotate", hook["id"], GEMINI_INTERACTIONS_WEBHOOK_SECRET=secret)
    assert rotated.returncode == 0, rotated.stderr
    assert "Deploy both now" in rotated.stdout and secret not in rotated.stdout
    assert "valid until" in admin(gemini, "list").stdout  # the old secret ends in 24 hours

    assert admin(gemini, "delete", hook["id"]).returncode == 0
    gone = admin(gemini, "delete", hook["id"])
    assert gone.returncode == 1 and "not found" in gone.stderr.lower()


def test_register_refuses_endpoints_gemini_cannot_use(gemini: EmulatorHandle) -> None:
    nowhere = admin(gemini, "register")
    assert nowhere.returncode == 2 and "GEMINI_INTERACTIONS_PUBLIC_URL" in nowhere.stderr
    plain = admin(gemini, "register", "--url", "http://gi.example.com/gemini/webhooks")
    assert plain.returncode == 2 and "not https" in plain.stderr
    assert gemini.emulator.webhooks.snapshot()["webhooks"] == []


def test_without_a_key_it_says_how_to_set_one(gemini: EmulatorHandle) -> None:
    environment = host_env(GOOGLE_GEMINI_BASE_URL=gemini.url)
    done = subprocess.run(
        [*ADMIN, "webhook", "list"], capture_output=True, text=True, timeout=60, env=environment
    )
    assert done.returncode == 1 and "GEMINI_API_KEY" in done.stderr
