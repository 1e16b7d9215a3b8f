"""The alerting families: alerts by state, notifications by result, the outbox, delays.

:class:`AlertStats` is owned by the runtime's alerting service and updated on the loop;
:class:`AlertsCollector` reads it at scrape time (no database access).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from monitor.metrics.state import Histogram

# Notification delay bounds (seconds): from well under a second (a page that waits for
# nothing) past the default group_wait of 30 s to the half hour a Slack outage may last.
DELAY_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 31.0, 35.0,
                                    60.0, 120.0, 300.0, 900.0, 1800.0)
ALERT_STATES: tuple[str, ...] = ("pending", "firing", "silenced", "inhibited")


@dataclass(slots=True)
class AlertStats:
    """What the alerting service has done, for the collector."""

    # (alertname, severity, state) -> alerts; state is pending, firing (and heard),
    # silenced or inhibited.  Replaced as a whole after every evaluation.
    alerts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    # (provider kind, result) -> attempts: delivered, recovered, retry, failed.
    notifications: Counter[tuple[str, str]] = field(default_factory=Counter)
    delay: Histogram = field(default_factory=lambda: Histogram(DELAY_BUCKETS))
    outbox_pending: int | None = None  # None until the outbox was read once
    leader: bool = False
    evaluations: int = 0
    evaluation_failures: int = 0
    last_evaluation_seconds: float = 0.0


class AlertsCollector(Collector):
    """``omniwatch_alerts``, ``omniwatch_notifications_total``, ``omniwatch_outbox_pending``,
    ``omniwatch_notification_delay_seconds`` and the evaluator's own health."""

    def __init__(self, stats: AlertStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self._stats
        alerts = GaugeMetricFamily(
            "omniwatch_alerts", "Alerts known to the state machine by state: pending, "
            "firing (notified), silenced or inhibited (muted).",
            labels=("alertname", "severity", "state"))
        for (name, severity, state), n in sorted(s.alerts.items()):
            alerts.add_metric([name, severity, state], n)
        yield alerts
        sent = CounterMetricFamily(
            "omniwatch_notifications", "Delivery attempts by provider and result: delivered, "
            "recovered (found delivered after a crash), retry, failed (permanent).",
            labels=("provider", "result"))
        for (provider, result), n in sorted(s.notifications.items()):
            sent.add_metric([provider, result], n)
        yield sent
        if s.outbox_pending is not None:
            yield GaugeMetricFamily("omniwatch_outbox_pending",
                                    "Notifications written to the outbox and not yet accepted "
                                    "by their provider (nor failed for good).",
                                    value=s.outbox_pending)
        delay = _histogram(
            "omniwatch_notification_delay_seconds",
            "From a notification being decided (its group flushed the state change) to "
            "its provider accepting it.", s.delay)
        yield delay
        yield GaugeMetricFamily("omniwatch_alerts_leader",
                                "1 when this replica holds the alerting lease (evaluates "
                                "and delivers), 0 on a standby.",
                                value=1.0 if s.leader else 0.0)
        yield CounterMetricFamily("omniwatch_alert_evaluation_failures",
                                  "Evaluations whose state could not be saved (store down).",
                                  value=s.evaluation_failures)
        yield GaugeMetricFamily("omniwatch_alert_evaluation_seconds",
                                "Wall time of the last rule evaluation and state step.",
                                value=s.last_evaluation_seconds)


def _histogram(name: str, documentation: str, h: Histogram) -> Metric:
    cumulative = h.cumulative()
    buckets = [(_bound(b), float(c)) for b, c in zip(h.bounds, cumulative, strict=False)]
    buckets.append(("+Inf", float(cumulative[-1])))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=h.total)


def _bound(value: float) -> str:
    return repr(float(value))
