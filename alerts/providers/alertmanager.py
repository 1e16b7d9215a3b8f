"""Alertmanager's v2 API: ``POST /api/v2/alerts`` with our alerts as *postable alerts*.

This is the route for HA setups: every omniwatch replica (or the one holding the lease)
posts, and Alertmanager's cluster de-duplicates, groups and notifies.  Alertmanager keeps
an alert only while it is re-sent, so the caller runs :meth:`AlertmanagerProvider.sync`
every ``resend_interval`` with every firing alert, and with each resolved one for
``resolved_resend_seconds`` (``endsAt`` in the past), in case one post is lost.

Posting the same alert again is idempotent in Alertmanager (an alert is its label set;
a second post only refreshes it), so :meth:`~AlertmanagerProvider.find_delivered` never
needs to look: after a crash the outbox simply posts again.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from typing import Any, Final

from alerts.config import AlertmanagerSettings, Receiver
from alerts.errors import DeliveryError
from alerts.model import AlertSnapshot, Notification
from alerts.providers import Receipt, RenderOptions
from alerts.providers.httppost import HttpPoster, classify, redact_url

# Firing alerts carry endsAt = now + this many resend intervals.  Omitting endsAt would
# leave the alert's life to Alertmanager's resolve_timeout, which we do not know: a short
# one resolves the alert between our re-sends when a single post is lost, a long one keeps
# a zombie alert firing for hours after omniwatch stopped.  Three intervals survive two
# lost posts and let Alertmanager resolve within minutes if omniwatch dies, as Prometheus
# does (it sends endsAt = now + 4 x its resend delay).
FIRING_VALIDITY_INTERVALS: Final = 3


def rfc3339(ts: float) -> str:
    """Unix seconds as RFC 3339 in UTC, the way Alertmanager (Go) writes times:
    ``2024-05-01T12:00:00Z``, fractions to the microsecond without trailing zeros
    (``...:00.5Z``)."""
    when = dt.datetime.fromtimestamp(ts, dt.UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    return text + "Z"


def generator_url(options: RenderOptions, fingerprint: str) -> str | None:
    """The link back to the alert in omniwatch, or None without an ``external_url``."""
    if not options.external_url:
        return None
    return f"{options.external_url.rstrip('/')}/?alert={fingerprint}"


def postable_alert(alert: AlertSnapshot, options: RenderOptions, *, now: float,
                   resend_interval_seconds: float) -> dict[str, Any]:
    """One alert as Alertmanager's ``postableAlert``.

    ``startsAt`` is the alert's start; ``endsAt`` is when it resolved (its ``ends_at``,
    else ``now``) for a resolved alert, and ``now`` plus
    :data:`FIRING_VALIDITY_INTERVALS` resend intervals for a firing one.  Never before
    ``startsAt`` (Alertmanager refuses that).
    """
    if alert.status == "firing":
        ends = now + FIRING_VALIDITY_INTERVALS * resend_interval_seconds
    else:
        ends = alert.ends_at if alert.ends_at is not None else now
    doc: dict[str, Any] = {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": rfc3339(alert.starts_at),
        "endsAt": rfc3339(max(ends, alert.starts_at)),
    }
    url = generator_url(options, alert.fingerprint)
    if url is not None:
        doc["generatorURL"] = url
    return doc


def postable_alerts(alerts: Sequence[AlertSnapshot], options: RenderOptions, *,
                    now: float, resend_interval_seconds: float) -> list[dict[str, Any]]:
    """The body of ``POST /api/v2/alerts`` for ``alerts``, in their order."""
    return [postable_alert(a, options, now=now, resend_interval_seconds=resend_interval_seconds)
            for a in alerts]


def encode(docs: list[dict[str, Any]]) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(docs, separators=(",", ":"), ensure_ascii=False).encode()


class AlertmanagerProvider:
    """Posts alerts to one Alertmanager (or a load balancer in front of a cluster)."""

    def __init__(self, receiver: Receiver, options: RenderOptions) -> None:
        if not isinstance(receiver.settings, AlertmanagerSettings):
            raise TypeError(f"receiver {receiver.name!r} is not an Alertmanager receiver")
        self._settings = receiver.settings
        self._options = options
        self._base = receiver.settings.url.rstrip("/")
        self._http = HttpPoster(receiver.settings.timeout_seconds)

    def __repr__(self) -> str:
        return f"AlertmanagerProvider(url={redact_url(self._base)!r})"

    async def _post(self, alerts: Sequence[AlertSnapshot]) -> int:
        body = encode(postable_alerts(
            alerts, self._options, now=time.time(),
            resend_interval_seconds=self._settings.resend_interval_seconds))
        return await self._http.post(f"{self._base}/api/v2/alerts", body,
                                     {"Content-Type": "application/json"})

    async def send(self, notification: Notification, thread: Receipt | None) -> Receipt:
        """Post the notification's alerts (firing and resolved); ``thread`` is unused
        (Alertmanager has no threads).  The receipt is ``{"status": "200"}``."""
        status = await self._post(notification.alerts)
        return {"status": str(status)}

    async def sync(self, alerts: Sequence[AlertSnapshot]) -> None:
        """The periodic re-send: post ``alerts`` as they are now (the caller picks every
        firing alert and the recently resolved ones).  Nothing is sent for none.
        Raises :class:`~alerts.errors.DeliveryError` as :meth:`send` does."""
        if alerts:
            await self._post(alerts)

    async def find_delivered(self, notification: Notification,
                             thread: Receipt | None) -> Receipt | None:
        """Always None: posting again is idempotent in Alertmanager (see the module)."""
        return None

    async def check(self) -> list[str]:
        """``GET /api/v2/status``: a message when Alertmanager does not answer 200."""
        where = redact_url(self._base)
        try:
            status, body, retry_after = await self._http.request(
                "GET", f"{self._base}/api/v2/status")
        except DeliveryError as exc:
            return [f"alertmanager unreachable: {exc}"]
        error = classify(status, body, retry_after, time.time())
        if error is not None:
            return [f"alertmanager {where}: GET /api/v2/status answered {error}"]
        return []

    async def close(self) -> None:
        await self._http.close()
