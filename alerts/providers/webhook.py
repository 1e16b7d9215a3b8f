"""A generic JSON webhook: Alertmanager's webhook payload, signed as Standard Webhooks do.

The body is what Alertmanager's ``webhook_config`` posts (``version: "4"``), so a
receiver written for Alertmanager reads ours unchanged::

    {"receiver": "ROUTE/webhook", "status": "firing" | "resolved",
     "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt",
                 "generatorURL", "fingerprint"}, ...],
     "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
     "externalURL": "...", "version": "4", "groupKey": "...", "truncatedAlerts": 0,
     "omniwatch": {"id": "...", "kind": "firing", "episode": "..."}}

``status`` is ``firing`` while any alert in it fires.  A firing alert's ``endsAt`` is
``0001-01-01T00:00:00Z`` (Go's zero time), as Alertmanager writes it.  ``fingerprint``
and ``groupKey`` are omniwatch's.  The ``omniwatch`` object is our extension: ``id`` the
notification's id (also the ``webhook-id`` header), ``kind`` one of ``firing``, ``update``,
``reminder``, ``resolved``, ``test``, and ``episode`` the id of the notification that
opened this run of the group (equal to ``id`` for the first one), so a receiver can
thread follow-ups.

Headers (https://www.standardwebhooks.com/, spec 1.0.0): ``webhook-id``,
``webhook-timestamp`` (integer Unix seconds of this attempt) and, when a secret is set,
``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.  A secret
that starts with ``whsec_`` is base64 after the prefix and its decoded bytes are the key
(the spec's serialisation); any other secret's UTF-8 bytes are the key.  (The spec's
reference libraries base64-decode an unprefixed secret too: a receiver built on them
should be given the ``whsec_`` form.)  Without a secret nothing is signed, but
``webhook-id`` and ``webhook-timestamp`` are still sent.

Idempotency: a retry of the same notification carries the same ``webhook-id`` and the
spec asks receivers to de-duplicate by it, so after a crash the outbox posts again and
:meth:`WebhookProvider.find_delivered` never needs to look.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any, Final

from alerts.config import Receiver, WebhookSettings
from alerts.errors import PermanentError
from alerts.model import AlertSnapshot, Labels, Notification
from alerts.providers import Receipt, RenderOptions
from alerts.providers.alertmanager import generator_url, rfc3339
from alerts.providers.httppost import HttpPoster, redact_url

WEBHOOK_VERSION: Final = "4"
GO_ZERO_TIME: Final = "0001-01-01T00:00:00Z"
SECRET_PREFIX: Final = "whsec_"
# Standard Webhooks: a symmetric secret is random, at least 24 bytes.
MIN_KEY_BYTES: Final = 24


def _common(label_sets: Iterable[Labels]) -> dict[str, str]:
    """The pairs every set has (Alertmanager's commonLabels / commonAnnotations)."""
    sets = [set(labels) for labels in label_sets]
    if not sets:
        return {}
    return dict(sorted(set.intersection(*sets)))


def _alert_doc(a: AlertSnapshot, n: Notification, options: RenderOptions) -> dict[str, Any]:
    if a.status == "firing":
        ends = GO_ZERO_TIME
    else:
        ends = rfc3339(a.ends_at if a.ends_at is not None else n.created_at)
    return {
        "status": a.status,
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "startsAt": rfc3339(a.starts_at),
        "endsAt": ends,
        "generatorURL": generator_url(options, a.fingerprint) or "",
        "fingerprint": a.fingerprint,
    }


def payload(notification: Notification, receiver: Receiver,
            options: RenderOptions) -> dict[str, Any]:
    """The webhook document for ``notification`` (see the module for its shape)."""
    n = notification
    # Alertmanager's own key order, so a byte-for-byte comparison with its posts is easy.
    return {
        "receiver": receiver.name,
        "status": "firing" if n.firing else "resolved",
        "alerts": [_alert_doc(a, n, options) for a in n.alerts],
        "groupLabels": dict(n.group_labels),
        "commonLabels": _common(a.labels for a in n.alerts),
        "commonAnnotations": _common(a.annotations for a in n.alerts),
        "externalURL": options.external_url or "",
        "version": WEBHOOK_VERSION,
        "groupKey": n.group_key,
        "truncatedAlerts": 0,
        "omniwatch": {"id": n.id, "kind": n.kind, "episode": n.episode},
    }


def build_body(notification: Notification, receiver: Receiver,
               options: RenderOptions) -> bytes:
    """The exact bytes posted (and signed): compact UTF-8 JSON of :func:`payload`."""
    return json.dumps(payload(notification, receiver, options), separators=(",", ":"),
                      ensure_ascii=False).encode()


def signing_key(secret: str) -> bytes:
    """The HMAC key of ``secret``: base64-decoded after a ``whsec_`` prefix, else its
    UTF-8 bytes.  Raises ValueError (without the secret in it) on bad base64."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret starts with whsec_ but the rest is not "
                         "base64") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of
    ``{msg_id}.{timestamp}.{body}`` under :func:`signing_key` of ``secret``."""
    return _sign_with(signing_key(secret), msg_id, timestamp, body)


def _sign_with(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(msg_id: str, timestamp: int, body: bytes, key: bytes | None) -> dict[str, str]:
    """The request headers: content type and the Standard Webhooks trio (no signature
    without a ``key``)."""
    out = {"Content-Type": "application/json", "webhook-id": msg_id,
           "webhook-timestamp": str(timestamp)}
    if key is not None:
        out["webhook-signature"] = _sign_with(key, msg_id, timestamp, body)
    return out


class WebhookProvider:
    """Posts signed, Alertmanager-shaped JSON to one URL."""

    def __init__(self, receiver: Receiver, options: RenderOptions) -> None:
        if not isinstance(receiver.settings, WebhookSettings):
            raise TypeError(f"receiver {receiver.name!r} is not a webhook receiver")
        self._receiver = receiver
        self._options = options
        self._url = receiver.settings.url
        self._key: bytes | None = None
        # A bad secret is a configuration problem: reported by check(), permanent in send().
        self._key_problem: str | None = None
        if receiver.settings.secret is not None:
            try:
                self._key = signing_key(receiver.settings.secret)
            except ValueError as exc:
                self._key_problem = str(exc)
        self._http = HttpPoster(receiver.settings.timeout_seconds)

    def __repr__(self) -> str:  # never the secret, nor credentials in the URL
        return (f"WebhookProvider(url={redact_url(self._url)!r}, "
                f"signed={self._key is not None})")

    async def send(self, notification: Notification, thread: Receipt | None) -> Receipt:
        """Post the notification; ``thread`` is unused.  Each attempt is signed with its
        own timestamp, under the same ``webhook-id``.  The receipt is the HTTP status
        (``{"status": "204"}``)."""
        if self._key_problem is not None:
            raise PermanentError("invalid_secret", self._key_problem)
        body = build_body(notification, self._receiver, self._options)
        sent = headers(notification.id, int(time.time()), body, self._key)
        status = await self._http.post(self._url, body, sent)
        return {"status": str(status)}

    async def find_delivered(self, notification: Notification,
                             thread: Receipt | None) -> Receipt | None:
        """Always None: receivers de-duplicate by ``webhook-id`` (see the module)."""
        return None

    async def check(self) -> list[str]:
        """A message for a secret that cannot be used or is shorter than the spec asks;
        the URL is not contacted (a webhook has no request without side effects)."""
        where = redact_url(self._url)
        if self._key_problem is not None:
            return [f"webhook {where}: {self._key_problem}"]
        if self._key is not None and len(self._key) < MIN_KEY_BYTES:
            return [f"webhook {where}: the secret is {len(self._key)} bytes; Standard "
                    f"Webhooks asks for at least {MIN_KEY_BYTES} random bytes"]
        return []

    async def close(self) -> None:
        await self._http.close()

