"""Notifications, receivers and providers for the Slack tests (plain data, no I/O)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from alerts.config import Links, Receiver, SlackSettings
from alerts.model import AlertSnapshot, Notification, NotificationKind, labelset
from alerts.providers import RenderOptions

NOW = 1_712_000_000.0  # 2024-04-01 19:33:20 UTC
OPTIONS = RenderOptions(
    links=Links(runbook="https://wiki.example/runbooks/{alertname}",
                dashboard="https://grafana.example/d/omniwatch?var-channel={channel}"),
    external_url="https://omniwatch.example/")


def snapshot(target: str, *, severity: str = "warning", status: str = "firing",
             starts_at: float = NOW - 720, ends_at: float | None = None, new: bool = False,
             channel: str = "branch", alertname: str = "TargetDown",
             **annotations: str) -> AlertSnapshot:
    labels = labelset({"alertname": alertname, "channel": channel, "target": target,
                       "severity": severity})
    if status == "resolved" and ends_at is None:
        ends_at = starts_at + 720
    return AlertSnapshot(fingerprint=f"fp-{target}", status=status,  # type: ignore[arg-type]
                         labels=labels, annotations=labelset(annotations),
                         starts_at=starts_at, ends_at=ends_at, new=new)


def notification(*alerts: AlertSnapshot, kind: NotificationKind = "firing", seq: int = 1,
                 created_at: float = NOW, **labels: str) -> Notification:
    group = labelset(labels or {"alertname": "TargetDown", "channel": "branch"})
    return Notification(
        id=f"default/slack:ab12cd34:{seq}", receiver="default/slack", route="default",
        group_key="default:{alertname='TargetDown',channel='branch'}", group_labels=group,
        kind=kind, created_at=created_at, episode="default/slack:ab12cd34:1", alerts=alerts)


def live(n: Notification, **changes: Any) -> Notification:
    """``n`` created now (the lookups search from created_at), with ``changes``."""
    return replace(n, created_at=time.time(), **changes)


def bot_receiver(api_url: str, *, token: str, channel: str = "#channel-reliability",
                 timeout: float = 5.0) -> Receiver:
    return Receiver(name="default/slack", route="default", kind="slack",
                    settings=SlackSettings(token=token, channel=channel, api_url=api_url,
                                           timeout_seconds=timeout))


def webhook_receiver(url: str, *, timeout: float = 5.0) -> Receiver:
    return Receiver(name="default/slack", route="default", kind="slack_webhook",
                    settings=SlackSettings(webhook_url=url, timeout_seconds=timeout))
