"""The ``omniwatch_consistency_*`` families, read at scrape time from the latest reports."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.consistency.jobs import ConsistencyState
from monitor.consistency.model import Outcome


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


class ConsistencyCollector(Collector):
    """The consistency families from the latest report per channel."""

    def __init__(self, state: ConsistencyState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        labels = ("reference", "channel")
        ratio = GaugeMetricFamily(
            "omniwatch_consistency_ratio",
            "Matching keys / judged keys (all but pending_sync) in the last check; NaN when "
            "the check failed: a broken source is never 0% or 100%.", labels=labels)
        objective = GaugeMetricFamily(
            "omniwatch_consistency_objective_ratio", "The consistency objective.",
            labels=labels)
        records = GaugeMetricFamily(
            "omniwatch_consistency_records", "Keys per outcome in the last successful check.",
            labels=(*labels, "outcome"))
        fields = GaugeMetricFamily(
            "omniwatch_consistency_field_mismatches",
            "Mismatched records per field in the last successful check.",
            labels=(*labels, "field"))
        success = GaugeMetricFamily(
            "omniwatch_consistency_check_success",
            "1 if the last check ran to completion, 0 if a source failed.", labels=labels)
        last = GaugeMetricFamily(
            "omniwatch_consistency_last_run_timestamp_seconds", "When the last check started.",
            labels=labels)
        duration = GaugeMetricFamily(
            "omniwatch_consistency_check_duration_seconds", "How long the last check took.",
            labels=labels)
        for r in self._state.latest.values():
            lbl = [r.reference, r.channel]
            ratio.add_metric(lbl, _nan(r.ratio))
            objective.add_metric(lbl, r.objective)
            success.add_metric(lbl, 1.0 if r.success else 0.0)
            last.add_metric(lbl, r.started_at.timestamp())
            duration.add_metric(lbl, r.duration_seconds)
            if r.success:
                counts: Mapping[Outcome, int] = r.counts
                for outcome in Outcome:
                    records.add_metric([*lbl, str(outcome)], counts.get(outcome, 0))
                for name, n in sorted(r.field_mismatches.items()):
                    fields.add_metric([*lbl, name], n)
        yield from (ratio, objective, records, fields, success, last, duration)
