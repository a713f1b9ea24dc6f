"""The app manifest asks for exactly the scopes the bot needs: every Slack method the bot called across the test
suite (every fake Slack records them, ``tests/fakes/slack_scopes.py``), every event it subscribes to and every
feature it declares, each mapped to its scope as Slack's reference pages give it.

This test runs after every other one (``conftest.py`` moves it last). When the Slack tests did not all run in
this session (one file alone, ``-k``), it runs them first in a subprocess and judges that run's record.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.slack_scopes import SESSION, SlackUsage, load_manifest, manifest_scopes
from tests.support.env import REPO

from .conftest import SCOPE_TEST, SLACK_TESTS_DESELECTED, USAGE_FILE_ENV

HERE = Path(__file__).parent
# Events the tests send to show that the bot ignores them; the manifest does not subscribe to them.
SENT_TO_BE_IGNORED = frozenset({"reaction_added"})
SUITE_TIMEOUT_SECONDS = 900


def _whole_slack_suite_ran(session: pytest.Session) -> bool:
    ran = {item.path.name for item in session.items if item.path.parent == HERE}
    every = {path.name for path in HERE.glob("test_*.py")}
    return ran == every and not SLACK_TESTS_DESELECTED


def _usage(session: pytest.Session, tmp_path: Path) -> SlackUsage:
    if _whole_slack_suite_ran(session):
        return SESSION
    record = tmp_path / "slack-usage.json"
    command = [sys.executable, "-m", "pytest", str(HERE), "-q", "-x", "-p", "no:cacheprovider"]
    command += ["--deselect", str(HERE / SCOPE_TEST)]
    done = subprocess.run(
        command,
        cwd=REPO,
        env=os.environ | {USAGE_FILE_ENV: str(record)},
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, (
        f"the Slack tests failed, so their record is incomplete:\n{done.stdout[-3000:]}"
    )
    return SlackUsage.load(record)


def test_the_manifest_asks_for_exactly_the_scopes_the_bot_uses(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    usage = _usage(request.session, tmp_path)
    manifest = load_manifest()
    subscribed = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    # Every subscription is exercised by some test, and the tests send no event that Slack would not send.
    assert sorted(subscribed - set(usage.events)) == [], "subscribed to events that no test sends"
    assert sorted(set(usage.events) - subscribed - SENT_TO_BE_IGNORED) == [], "events the app does not get"

    needed = usage.needed_scopes(manifest)
    granted = manifest_scopes(manifest)
    lacking = {scope: sorted(reasons) for scope, reasons in needed.items() if scope not in granted}
    unused = sorted(granted - set(needed))
    assert lacking == {}, f"slack_manifest.yaml lacks scopes the bot needs: {lacking}"
    assert unused == [], f"slack_manifest.yaml asks for scopes nothing needs: {unused}"
    assert usage.calls, "no Slack call was recorded: the record is broken"
