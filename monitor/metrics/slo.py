"""The SLO families (``omniwatch_sli_ratio``, budgets, burn rates, status), computed at
scrape time from the history store's flushed buckets.

While the store cannot be read the SLO families are left out (a wrong number would be
worse than none) and ``omniwatch_slo_data_stale`` is 1; it is 1 too while writes fail,
because the families then miss the probes still buffered in memory."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.metrics.collectors import StoreHealth
from monitor.slo.bindings import SloBinding, evaluate_all
from monitor.slo.budget import ALERT_STATE_VALUES
from monitor.store.connection import StoreDown

if TYPE_CHECKING:
    from monitor.store import ProbeStore


def _value(v: float | None) -> float:
    # No data is unknown, not 100% and not 0%: Prometheus gets NaN.
    return math.nan if v is None else v


class SloCollector(Collector):
    """SLO families computed at scrape time from the store (flushed data only)."""

    def __init__(self, store: ProbeStore, bindings: Sequence[SloBinding],
                 clock: object, health: StoreHealth | None = None) -> None:
        self._store = store
        self.bindings = tuple(bindings)
        self._clock = clock
        self._health = health

    def _stale(self, value: bool) -> Metric:
        return GaugeMetricFamily(
            "omniwatch_slo_data_stale",
            "1 when the SLO families are absent (the history store cannot be read) or "
            "lag behind (its writes fail, results wait in memory); 0 when current.",
            value=1.0 if value else 0.0)

    def collect(self) -> Iterator[Metric]:
        objective = GaugeMetricFamily("omniwatch_slo_objective_ratio",
                                      "The objective of each SLO.", labels=("slo",))
        sli = GaugeMetricFamily("omniwatch_sli_ratio",
                                "Good / counted probes per window; NaN without data.",
                                labels=("slo", "window"))
        remaining = GaugeMetricFamily(
            "omniwatch_error_budget_remaining_ratio",
            "Share of the error budget left over the SLO period (negative when overspent).",
            labels=("slo",))
        seconds = GaugeMetricFamily(
            "omniwatch_error_budget_remaining_seconds",
            "Error budget left, as seconds of full outage (negative when overspent).",
            labels=("slo",))
        # Kept for one release so dashboards and alerts can move to the _seconds family.
        minutes = GaugeMetricFamily(
            "omniwatch_error_budget_remaining_minutes",
            "DEPRECATED, use omniwatch_error_budget_remaining_seconds (this family goes in "
            "the next release). Error budget left, as minutes of full outage.",
            labels=("slo",))
        burn = GaugeMetricFamily("omniwatch_burn_rate",
                                 "Error ratio / (1 - objective) per window; NaN without data.",
                                 labels=("slo", "window"))
        exhaustion = GaugeMetricFamily(
            "omniwatch_error_budget_exhaustion_seconds",
            "Time until the budget is spent at the last hour's burn rate; +Inf if none burns.",
            labels=("slo",))
        status = GaugeMetricFamily("omniwatch_slo_status",
                                   "Burn-rate alert state: 0 ok, 1 ticket, 2 page.",
                                   labels=("slo",))
        now = self._clock()  # type: ignore[operator]
        try:
            statuses = evaluate_all(self._store, self.bindings, now)
        except StoreDown:
            # The store records why (omniwatch_store_*); the scrape must still answer.
            yield self._stale(True)
            return
        yield self._stale(self._health is not None and not self._health.last_flush_success)
        for st in statuses:
            parts = [(st.spec.name, st.availability)]
            if st.latency is not None:
                parts.append((f"{st.spec.name}-latency", st.latency))
            for name, o in parts:
                objective.add_metric([name], o.objective)
                for window, v in o.sli.items():
                    sli.add_metric([name, window], _value(v))
                for window, v in o.burn_rates.items():
                    burn.add_metric([name, window], _value(v))
                remaining.add_metric([name], _value(o.budget_remaining_ratio))
                left = o.budget_remaining_minutes
                seconds.add_metric([name], _value(None if left is None else left * 60.0))
                minutes.add_metric([name], _value(left))
                exhaustion.add_metric([name], math.inf if o.exhaustion_seconds is None
                                      else o.exhaustion_seconds)
                status.add_metric([name], ALERT_STATE_VALUES[o.alert])
        yield from (objective, sli, remaining, seconds, minutes, burn, exhaustion, status)
