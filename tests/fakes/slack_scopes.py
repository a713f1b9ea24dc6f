"""Which bot scope each thing the bot does needs, per Slack's reference pages, and a record of everything the bot
did across a test session (every FakeSlack writes to it): ``tests/slack/test_scopes.py`` holds the app manifest
to exactly what that record needs.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "slack_manifest.yaml"

# Web API methods → the bot scope each needs ("Scopes" on docs.slack.dev/reference/methods/<method>). None: no
# scope (auth.test, views.publish, views.open). conversations.replies depends on the kind of conversation, below.
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "chat.startStream": "chat:write",  # and appendStream, stopStream (docs.slack.dev/reference/methods/chat.*Stream)
    "chat.appendStream": "chat:write",
    "chat.stopStream": "chat:write",
    # Since 2026-03-05 setStatus takes chat:write (assistant:write is being retired for it):
    # docs.slack.dev/changelog/2026/03/05/set-status-scope-update.
    "assistant.threads.setStatus": "chat:write",
    # docs.slack.dev/reference/methods/assistant.threads.setSuggestedPrompts: assistant:write.
    "assistant.threads.setSuggestedPrompts": "assistant:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "files.info": "files:read",
    "download": "files:read",  # GET url_private with the bot token (docs.slack.dev/reference/objects/file-object)
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",  # members of groups named in SLACK_RESEARCH_ALLOWED
    "views.publish": None,
    "views.open": None,
}
HISTORY_SCOPES = {  # conversations.replies: "channels:history, groups:history, im:history, mpim:history"
    "channel": "channels:history",
    "group": "groups:history",
    "im": "im:history",
    "mpim": "mpim:history",
}
# Events API subscriptions → the scope each needs (docs.slack.dev/reference/events/<event>, "Required scopes").
EVENT_SCOPES: dict[str, str | None] = {
    "app_mention": "app_mentions:read",
    "app_home_opened": None,
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
}
# Manifest features → scope: slash commands need "commands"; the agent view ("act as an App Agent") needs
# assistant:write (docs.slack.dev/reference/scopes/assistant.write).
FEATURE_SCOPES = {"slash_commands": "commands", "agent_view": "assistant:write"}
# Calls made with the app-level token (xapp-…): its scope (connections:write) is not a bot scope.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


def method_scope(method: str, channel_kind: str | None) -> str | None:
    if method == "conversations.replies":
        return HISTORY_SCOPES[channel_kind or "channel"]
    if method not in METHOD_SCOPES:
        raise KeyError(f"no scope known for {method}: add it to METHOD_SCOPES, with its doc")
    return METHOD_SCOPES[method]


def event_subscription(event: dict[str, Any]) -> str:
    """The subscription (manifest ``bot_events``) an event arrives through."""
    kind = str(event.get("type"))
    if kind == "message":
        return {"channel": "message.channels", "group": "message.groups", "im": "message.im"}.get(
            str(event.get("channel_type")), "message.mpim"
        )
    return kind


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def manifest_scopes(manifest: dict[str, Any] | None = None) -> frozenset[str]:
    manifest = manifest or load_manifest()
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


@dataclass
class SlackUsage:
    """What the bot did against every fake Slack of this process: methods (with the kind of conversation),
    events it was sent (by subscription) and slash commands."""

    calls: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    commands: int = 0

    def needed_scopes(self, manifest: dict[str, Any]) -> dict[str, set[str]]:
        """Each scope this record needs → what needs it: the methods called, the events ``manifest`` subscribes
        to (Slack sends no others), the features it declares, and slash commands if any were sent."""
        needed: dict[str, set[str]] = {}

        def need(scope: str | None, reason: str) -> None:
            if scope:
                needed.setdefault(scope, set()).add(reason)

        for method, kind in self.calls:
            need(
                method_scope(method, kind),
                method if method != "conversations.replies" else f"{method} ({kind})",
            )
        for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
            need(EVENT_SCOPES[event], f"event {event}")
        for feature, scope in FEATURE_SCOPES.items():
            if feature in manifest.get("features", {}):
                need(scope, f"feature {feature}")
        if self.commands:
            need("commands", "slash commands")
        return needed

    def save(self, path: Path) -> None:
        calls = [[method, kind, count] for (method, kind), count in self.calls.items()]
        path.write_text(json.dumps({"calls": calls, "events": self.events, "commands": self.commands}))

    @classmethod
    def load(cls, path: Path) -> SlackUsage:
        data = json.loads(path.read_text())
        calls: Counter[tuple[str, str | None]] = Counter({(m, k): n for m, k, n in data["calls"]})
        return cls(calls=calls, events=Counter(data["events"]), commands=int(data["commands"]))


SESSION = SlackUsage()
