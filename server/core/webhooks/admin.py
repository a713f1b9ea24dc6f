"""The operator's side of Gemini's project-level webhooks (``gemini-interactions-admin webhook …``): register
our endpoint for the interaction events we use, rotate its signing secret, list, delete. Through the
gateway's google-genai client (``client.aio.webhooks``, REST ``/{version}/webhooks``), never retried: a
retried create could register the endpoint twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .payload import INTERACTION_EVENTS

if TYPE_CHECKING:
    from ..gateway import Gateway
    from ..settings import Settings

ADMIN_TIMEOUT_SECONDS = 30.0
MAX_PAGES = 20


@dataclass(frozen=True, slots=True)
class SigningSecretInfo:
    truncated: str
    expires: str | None  # ISO-8601; None: no end set (the current secret)


@dataclass(frozen=True, slots=True)
class WebhookInfo:
    id: str
    name: str
    uri: str
    state: str
    events: tuple[str, ...]
    secrets: tuple[SigningSecretInfo, ...]


@dataclass(frozen=True, slots=True)
class Registered:
    webhook: WebhookInfo
    secret: str  # shown once by Gemini: the operator must keep it now


def _info(webhook: Any) -> WebhookInfo:
    secrets = tuple(
        SigningSecretInfo(
            truncated=str(getattr(s, "truncated_secret", "") or ""),
            expires=s.expire_time.isoformat() if getattr(s, "expire_time", None) else None,
        )
        for s in (getattr(webhook, "signing_secrets", None) or [])
    )
    return WebhookInfo(
        id=str(webhook.id or ""),
        name=str(webhook.name or ""),
        uri=str(webhook.uri or ""),
        state=str(webhook.state or ""),
        events=tuple(str(event) for event in webhook.subscribed_events or ()),
        secrets=secrets,
    )


class WebhookAdmin:
    """``async with WebhookAdmin(settings) as admin: await admin.register(url)``"""

    def __init__(self, settings: Settings) -> None:
        from ..gateway import Gateway

        self._gateway: Gateway = Gateway(settings)

    async def __aenter__(self) -> WebhookAdmin:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._gateway.aclose()

    async def register(self, uri: str, *, name: str | None = None) -> Registered:
        """Subscribe ``uri`` to the interaction events we use; the signing secret comes back once."""
        webhook = await self._call(
            "create", uri=uri, subscribed_events=list(INTERACTION_EVENTS), **({"name": name} if name else {})
        )
        secret = str(getattr(webhook, "new_signing_secret", "") or "")
        if not secret:
            from ..errors import UpstreamError

            raise UpstreamError(
                "Gemini registered the webhook but sent no signing secret. Rotate it now with "
                f"`gemini-interactions-admin webhook rotate {webhook.id}` to get one."
            )
        return Registered(_info(webhook), secret)

    async def list(self) -> list[WebhookInfo]:
        found: list[WebhookInfo] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = await self._call("list", **({"page_token": token} if token else {}))
            found += [_info(webhook) for webhook in page.webhooks or []]
            token = page.next_page_token
            if not token:
                break
        return found

    async def rotate(self, webhook_id: str, *, revoke_now: bool = False) -> str:
        """A new signing secret; the previous ones stay valid for 24 h unless ``revoke_now``."""
        behavior = (
            "revoke_previous_secrets_immediately" if revoke_now else "revoke_previous_secrets_after_h24"
        )
        rotated = await self._call("rotate_signing_secret", webhook_id, revocation_behavior=behavior)
        return str(rotated.secret or "")

    async def delete(self, webhook_id: str) -> None:
        await self._call("delete", webhook_id)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        api = self._gateway.webhooks_api()
        try:
            return await getattr(api, method)(*args, timeout=ADMIN_TIMEOUT_SECONDS, **kwargs)
        except Exception as exc:
            raise self._gateway.translate(exc) from None
