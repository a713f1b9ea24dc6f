"""Every listener, one concept per module. The first matching listener wins, so order matters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from . import actions, commands, home, ignored, mentions, messages, plans

if TYPE_CHECKING:
    from ..bot import SlackBot


def register_listeners(app: AsyncApp, bot: SlackBot) -> None:
    commands.register(app, bot)
    actions.register(app, bot)
    plans.register(app, bot)
    mentions.register(app, bot)
    home.register(app, bot)
    messages.register(app, bot)
    ignored.register(app)
