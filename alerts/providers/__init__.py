"""One module per alert destination, each a pure payload builder plus a ``send``.

:data:`PROVIDERS` maps a receiver kind to the factory that builds its provider; modules
are imported when a receiver of their kind is first built (slack-sdk is not needed by a
monitor without Slack).  The state machine never imports this package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from alerts.config import Links, ProviderKind, Receiver
from alerts.model import Notification

Receipt = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """What every payload builder needs besides the notification."""

    links: Links = field(default_factory=Links)
    external_url: str | None = None


class Provider(Protocol):
    """An alert destination.  Every method raises only :class:`~alerts.errors.DeliveryError`
    (``PermanentError`` or ``RetryableError``) for delivery problems."""

    async def send(self, notification: Notification, thread: Receipt | None) -> Receipt:
        """Deliver ``notification``; return what identifies the delivered message.

        ``thread`` is the receipt of the notification that opened the episode (Slack:
        ``channel`` and ``ts`` to reply to or update), ``None`` for the first one.
        """

    async def find_delivered(self, notification: Notification,
                             thread: Receipt | None) -> Receipt | None:
        """After a crash: the receipt of an earlier delivery of ``notification``, or None
        when there was none (or the provider cannot tell: then ``send`` may duplicate)."""

    async def check(self) -> list[str]:
        """Start-up problems worth a warning (e.g. a token without history scope)."""

    async def close(self) -> None:
        """Release connections."""


Factory = Callable[[Receiver, RenderOptions], Provider]

# kind -> "module:function"; the module is imported on first use.
PROVIDERS: Mapping[ProviderKind, str] = {
    "slack": "alerts.providers.slack:SlackBotProvider",
    "slack_webhook": "alerts.providers.slack_webhook:SlackWebhookProvider",
    "alertmanager": "alerts.providers.alertmanager:AlertmanagerProvider",
    "webhook": "alerts.providers.webhook:WebhookProvider",
}


def build_provider(receiver: Receiver, options: RenderOptions) -> Provider:
    """The provider for ``receiver`` (its module imported now)."""
    module, _, name = PROVIDERS[receiver.kind].partition(":")
    factory: Factory = getattr(importlib.import_module(module), name)
    return factory(receiver, options)
