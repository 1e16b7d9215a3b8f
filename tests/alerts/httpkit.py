"""Helpers for the HTTP provider tests: a recording server on port 0, and alert data.

:func:`recorder` serves an :class:`aiohttp.web` app that records every request (method,
path, headers, exact body bytes) and answers from a queue of canned answers, then 200.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from alerts.config import AlertmanagerSettings, Receiver, WebhookSettings
from alerts.model import AlertSnapshot, Notification, fingerprint, labelset
from tests.servers import http_server


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


@dataclass(frozen=True)
class Answer:
    """A canned answer."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Recorder:
    """What the server received, and what it will answer next."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(
            request.method, request.path_qs,
            {k.lower(): v for k, v in request.headers.items()}, await request.read()))
        answer = self.answers.pop(0) if self.answers else Answer()
        return web.Response(status=answer.status, body=answer.body,
                            headers=dict(answer.headers))


@contextlib.asynccontextmanager
async def recorder(*answers: Answer) -> AsyncIterator[Recorder]:
    """A recording server answering ``answers`` in turn, then 200 with no body."""
    rec = Recorder(answers=list(answers))
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    async with http_server(app) as url:
        rec.url = url
        yield rec


def snap(status: str, starts_at: float, ends_at: float | None = None, *,
         annotations: Mapping[str, str] | None = None, **labels: str) -> AlertSnapshot:
    """An alert snapshot with ``labels`` and its real fingerprint."""
    ls = labelset(labels)
    assert status in ("firing", "resolved")
    return AlertSnapshot(fingerprint=fingerprint(ls), status=status,
                         labels=ls, annotations=labelset(annotations or {}),
                         starts_at=starts_at, ends_at=ends_at)


def notification(*alerts: AlertSnapshot, kind: str = "firing",
                 receiver: str = "default/webhook", seq: int = 1,
                 group_labels: Mapping[str, str] | None = None,
                 created_at: float = 1_700_000_000.0) -> Notification:
    """A notification of ``alerts`` for group ``{alertname="TargetDown"}`` by default."""
    group = labelset(group_labels if group_labels is not None
                     else {"alertname": "TargetDown"})
    key = "{}:{" + ",".join(f'{k}="{v}"' for k, v in group) + "}"
    nid = f"{receiver}:{fingerprint(group)}:{seq}"
    return Notification(id=nid, receiver=receiver, route=receiver.split("/")[0],
                        group_key=key, group_labels=group, kind=kind,
                        created_at=created_at, episode=f"{receiver}:{fingerprint(group)}:1",
                        alerts=alerts)


def am_receiver(url: str, *, timeout: float = 5.0, resend: float = 60.0) -> Receiver:
    """An Alertmanager receiver for ``url``."""
    return Receiver(name="alertmanager", route="alertmanager", kind="alertmanager",
                    settings=AlertmanagerSettings(url=url, resend_interval_seconds=resend,
                                                  timeout_seconds=timeout))


def webhook_receiver(url: str, secret: str | None = None, *,
                     timeout: float = 5.0) -> Receiver:
    """A webhook receiver of route ``default`` for ``url``."""
    return Receiver(name="default/webhook", route="default", kind="webhook",
                    settings=WebhookSettings(url=url, secret=secret, timeout_seconds=timeout))
