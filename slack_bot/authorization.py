"""Who the bot is (``auth.test``, asked once: at start-up, or on first use if start-up could not), and who a
Slack user is to the core.

Bolt's single-team default calls auth.test on the first request, and once per request while that first call is
in flight, so a burst of requests at start-up would all wait for it; our ``authorize`` answers from the one
result instead.
"""

from __future__ import annotations

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from server.core import ConfigurationError, Origin, slack_owner

REJECTED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})


def viewer(team_id: str | None, user_id: str | None) -> Origin:
    """A Slack user as the core sees a caller (``slack:<team>:<user>``): they see their workspace's runs, and
    cancel their own."""
    owner = slack_owner(team_id, user_id) if team_id and user_id else None
    return Origin(source="slack", owner=owner, team_id=team_id)


class BotAuthorization:
    def __init__(self, client: AsyncWebClient, bot_token: str) -> None:
        self._client = client
        self._bot_token = bot_token
        self._result: AuthorizeResult | None = None

    @property
    def authorized(self) -> bool:
        """Slack has accepted the bot's token (auth.test answered)."""
        return self._result is not None

    async def authorize(self) -> AuthorizeResult:
        """The bot's identity; ConfigurationError when Slack rejects the token."""
        if self._result is None:
            try:
                response = await self._client.auth_test()
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error in REJECTED:
                    raise ConfigurationError(
                        f"Slack rejected SLACK_BOT_TOKEN ({error}). Copy the Bot User OAuth Token (xoxb-…) again "
                        "from the app's OAuth & Permissions page; reinstall the app if it was revoked."
                    ) from None
                raise
            self._result = AuthorizeResult.from_auth_test_response(
                bot_token=self._bot_token, auth_test_response=response
            )
        return self._result

    async def workspace_url(self) -> str | None:
        """``https://<workspace>.slack.com/``, to link to threads."""
        return (await self.authorize()).url or None
