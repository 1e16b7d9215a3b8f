"""The ``omniwatch_consistency_*`` families, read at scrape time from the latest reports.

Every family has a ``dataset`` label; the ratio also has ``mode``: the kind of run that
produced it (``full``, ``checksum``, ``sample``, ``incremental``, or checksum's
``checksum-dense-full``).  ``omniwatch_consistency_ratio{dataset="all"}`` weighs every
dataset's latest *whole* run by its judged keys, per channel and over all channels
(``channel="all"``); its ``reference`` and ``mode`` are the datasets' own when they agree,
``mixed`` otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.consistency.jobs import ConsistencyState
from monitor.consistency.model import ConsistencyReport, Outcome

ALL = "all"


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


def _one(values: Iterable[str]) -> str:
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else "mixed"


def overall(reports: Iterable[ConsistencyReport]) -> list[tuple[str, str, str, float]]:
    """``(reference, channel, mode, ratio)`` over datasets: per channel, then ``all``.

    Matches over judged keys summed across datasets; NaN when one of them failed (a
    broken source is never read as good or bad) or nothing was judged.
    """
    by_channel: dict[str, list[ConsistencyReport]] = {}
    for r in reports:
        by_channel.setdefault(r.channel, []).append(r)
    groups = sorted(by_channel.items())
    if groups:
        groups.append((ALL, [r for _, rs in groups for r in rs]))
    out = []
    for channel, rs in groups:
        judged = sum(r.judged for r in rs)
        ratio = (math.nan if judged == 0 or any(not r.success for r in rs)
                 else sum(r.counts.get(Outcome.MATCH, 0) for r in rs) / judged)
        out.append((_one(r.reference for r in rs), channel, _one(r.mode for r in rs), ratio))
    return out


class ConsistencyCollector(Collector):
    """The consistency families from the latest report per (dataset, channel)."""

    def __init__(self, state: ConsistencyState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        labels = ("dataset", "reference", "channel")
        ratio = GaugeMetricFamily(
            "omniwatch_consistency_ratio",
            "Matching keys / judged keys (all but pending_sync) in the last check; NaN when "
            "the check failed: a broken source is never 0% or 100%. mode: the kind of run; "
            "dataset=\"all\": datasets weighed by judged keys.", labels=(*labels, "mode"))
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
        for _, r in sorted(self._state.latest.items()):
            lbl = [r.dataset, r.reference, r.channel]
            ratio.add_metric([*lbl, r.mode], _nan(r.ratio))
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
        for reference, channel, mode, value in overall(self._state.whole.values()):
            ratio.add_metric([ALL, reference, channel, mode], value)
        yield from (ratio, objective, records, fields, success, last, duration)
