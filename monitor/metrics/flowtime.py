"""The flow-time objective families, computed at scrape time from the history store.

Rendered with the SLO families in a worker thread (they read the database).  While the
store cannot be read every family here is left out, as the SLO families are: a wrong
number, or a 0 that reads as "met", would be worse than none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.slo.flowreport import FlowScope, FlowStore
from monitor.slo.flowtime import merge, met, percentile_label
from monitor.store.connection import StoreDown

WINDOW_SECONDS = 7 * 86400.0
_LABELS = ("channel", "target", "percentile")


class FlowObjectiveCollector(Collector):
    """``omniwatch_journey_duration_objective_seconds``, ``_percentile_seconds`` (last 7
    days) and ``omniwatch_journey_objective_met`` per configured flow-time objective.

    ``scopes`` is replaced on a reload; scopes without an objective are ignored.
    """

    def __init__(self, store: FlowStore, scopes: Sequence[FlowScope],
                 clock: Callable[[], float]) -> None:
        self._store = store
        self.scopes = tuple(scopes)
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        scopes = [s for s in self.scopes if s.objective is not None]
        if not scopes:
            return
        now = self._clock()
        try:
            hours = self._store.flow_hours(now - WINDOW_SECONDS, now,
                                           sorted({s.target for s in scopes}))
        except StoreDown:
            return
        objective = GaugeMetricFamily(
            "omniwatch_journey_duration_objective_seconds",
            "The flow time a journey's percentile must come under (max, or the plan's "
            "end: baseline reduced by reduce_by).", labels=_LABELS)
        value = GaugeMetricFamily(
            "omniwatch_journey_duration_percentile_seconds",
            "Percentile of the durations of successful runs over the last 7 days "
            "(absent without runs).", labels=_LABELS)
        met_family = GaugeMetricFamily(
            "omniwatch_journey_objective_met",
            "1 when the last 7 days' percentile is at or under the objective, 0 when "
            "above; absent without runs.", labels=_LABELS)
        for s in scopes:
            o = s.objective
            assert o is not None  # filtered above
            labels = [s.channel, s.target, percentile_label(o.percentile)]
            objective.add_metric(labels, o.objective_seconds)
            p = merge(hours.get(s.target, ())).percentile(o.percentile)
            if p is None:
                continue
            value.add_metric(labels, p)
            met_family.add_metric(labels, 1.0 if met(p, o) else 0.0)
        yield from (objective, value, met_family)
