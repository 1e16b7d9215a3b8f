"""Slack through an incoming webhook: every notification is a new message.

A webhook answers ``ok`` and nothing else — no ``ts`` — so there are no threads and no
update in place: a reminder, a change and a resolution are each a new top-level message
(:func:`~alerts.providers.slack_blocks.message`).  Nor can anything be read back:
:meth:`SlackWebhookProvider.find_delivered` always answers None, so a crash between Slack
accepting a message and the outbox recording it repeats that one message (at most one
duplicate per notification in flight).  A bot token avoids both.

The webhook URL is the secret: it never appears in an error, a log line or a repr.
"""

from __future__ import annotations

import re
from typing import Final

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from alerts.config import Receiver, SlackSettings
from alerts.errors import DeliveryError, PermanentError, RetryableError
from alerts.model import Notification
from alerts.providers import Receipt, RenderOptions
from alerts.providers.slack import retry_after, sdk_logger, transport_error
from alerts.providers.slack_blocks import message

# What Slack answers a webhook that cannot work until someone fixes it: a bad payload
# (400), a removed or revoked hook (403, 404), an archived channel (410), too large (413).
PERMANENT_STATUSES: Final = frozenset({400, 403, 404, 410, 413})


def webhook_error(status: int, body: str, headers: object) -> DeliveryError:
    """The delivery error for a webhook answer that is not 2xx.  Slack's body is a short
    code (``no_service``); anything else is reported by status alone."""
    code = body.strip() if re.fullmatch(r"[a-z_]{1,64}", body.strip()) else f"http_{status}"
    if status == 429:
        return RetryableError("ratelimited", "Slack rate limited the webhook",
                              retry_after=retry_after(headers))
    if status in PERMANENT_STATUSES:
        return PermanentError(code, f"Slack refused the webhook post: HTTP {status} {code}")
    # 5xx, and statuses Slack does not document for webhooks: better late than lost.
    return RetryableError(code, f"Slack answered the webhook post with HTTP {status}")


class SlackWebhookProvider:
    """Posts a receiver's notifications to a Slack incoming webhook."""

    def __init__(self, receiver: Receiver, options: RenderOptions) -> None:
        settings = receiver.settings
        if not isinstance(settings, SlackSettings) or not settings.webhook_url:
            raise ValueError(f"receiver {receiver.name}: Slack webhook mode needs a URL")
        self.receiver = receiver
        self.settings = settings
        self.options = options
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebhookClient | None = None

    def __repr__(self) -> str:  # never the URL
        return f"SlackWebhookProvider(receiver={self.receiver.name!r})"

    def client(self) -> AsyncWebhookClient:
        """The slack-sdk client with a session of our own, made on first use."""
        if self._client is None or self._session is None or self._session.closed:
            timeout = self.settings.timeout_seconds
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
            assert self.settings.webhook_url is not None
            self._client = AsyncWebhookClient(
                self.settings.webhook_url, timeout=max(1, round(timeout)),
                session=self._session, logger=sdk_logger(), retry_handlers=[])
        return self._client

    async def send(self, notification: Notification, thread: Receipt | None) -> Receipt:
        """Post ``notification`` as a new message (``thread`` is ignored: webhooks have
        none).  The receipt is empty: Slack names no message."""
        msg = message(notification, self.options)
        client = self.client()
        try:
            response = await client.send(text=msg.text, blocks=msg.blocks_list(),
                                         unfurl_links=False, unfurl_media=False)
        except aiohttp.InvalidURL:
            raise PermanentError("invalid_url", "the Slack webhook URL is not valid") from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise transport_error(exc) from None
        if 200 <= response.status_code < 300:
            return {}
        raise webhook_error(response.status_code, response.body or "", response.headers)

    async def find_delivered(self, notification: Notification,
                             thread: Receipt | None) -> Receipt | None:
        """Always None: a webhook cannot be read back (see the module docstring)."""
        return None

    async def check(self) -> list[str]:
        """What webhook mode cannot do, said once at start-up."""
        return [f"Slack receiver {self.receiver.name} uses an incoming webhook: no threads "
                "or update in place, and after a crash a message already posted cannot be "
                "looked up and may be posted once more (a bot token avoids both)"]

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = self._client = None
