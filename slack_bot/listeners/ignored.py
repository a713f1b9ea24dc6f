"""Registered last: acknowledge any other event quietly, so Slack does not retry what we do not act on."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp


def register(app: AsyncApp) -> None:
    @app.event(re.compile(".*"))
    async def ignore_other_events() -> None:
        return None
