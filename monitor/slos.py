"""Wire the configuration to the SLO math: which SLOs exist, what is excluded, and status.

Every channel has an SLO named after it; a target with its own ``slo:`` gets one more,
named ``target:<name>``.  A latency objective is exported as a second SLO named
``<name>-latency``, as the Prometheus rules do, so every series keeps the ``{slo}`` or
``{slo,window}`` labels of the contract.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.exclusions import CronSchedule, Exclusions, MaintenanceWindow
from monitor.model import Config, SloConfig
from monitor.rules import PrometheusSlo
from monitor.slo import ALERT_STATE_VALUES, SloSpec, SloStatus, duration_label, evaluate
from monitor.slo import month_start as _month_start
from monitor.store import ProbeStore

Kind = Literal["channel", "target"]


@dataclass(frozen=True, slots=True)
class SloBinding:
    """One configured SLO: its spec and the probes it covers."""

    spec: SloSpec
    kind: Kind
    scope: str  # the channel name, or the target name
    channel: str


def _spec(name: str, slo: SloConfig) -> SloSpec:
    return SloSpec(name=name, objective=slo.objective,
                   period=duration_label(slo.window_seconds),
                   latency_objective=slo.latency_objective, timezone=slo.timezone)


def slo_bindings(config: Config) -> tuple[SloBinding, ...]:
    """Every SLO of ``config``: one per channel, plus one per target that asks for it."""
    out = []
    for channel in config.channels:
        out.append(SloBinding(_spec(channel.name, channel.slo), "channel", channel.name,
                              channel.name))
        for target in channel.targets:
            if target.slo is not None:
                out.append(SloBinding(_spec(f"target:{target.name}", target.slo), "target",
                                      target.name, channel.name))
    return tuple(out)


def exclusions(config: Config) -> Exclusions:
    """Service hours and maintenance windows of ``config`` (validated at load time)."""
    windows = []
    for m in config.maintenance:
        if m.cron is not None:
            windows.append(MaintenanceWindow(
                m.name, cron=CronSchedule.parse(m.cron), duration_seconds=m.duration_seconds,
                tz=m.tz, channels=m.channels, targets=m.targets))
        else:
            windows.append(MaintenanceWindow(m.name, start=m.start, end=m.end, tz=m.tz,
                                             channels=m.channels, targets=m.targets))
    hours = {c.name: c.service_hours for c in config.channels if c.service_hours is not None}
    return Exclusions(service_hours=hours, maintenance=tuple(windows))


def evaluate_all(store: ProbeStore, bindings: Sequence[SloBinding],
                 now: float) -> list[SloStatus]:
    """The status of every SLO at ``now``: one store read per kind of scope."""
    statuses = []
    for kind in ("channel", "target"):
        chosen = [b for b in bindings if b.kind == kind]
        if not chosen:
            continue
        windows = sorted({w for b in chosen for w in b.spec.windows})
        # Every SLO of one config shares the time zone, so one month start serves all.
        month_from = _month_start(now, chosen[0].spec.timezone)
        counts = store.window_counts(kind, windows, now, month_from=month_from,
                                     names=[b.scope for b in chosen])
        statuses += [evaluate(b.spec, counts.get(b.scope, {}), now) for b in chosen]
    return statuses


def prometheus_slos(bindings: Sequence[SloBinding]) -> list[PrometheusSlo]:
    """The SLOs as Prometheus rules see them (selectors over omniwatch_probes_total)."""
    out = []
    for b in bindings:
        selector = {"channel": b.channel} if b.kind == "channel" else {
            "channel": b.channel, "target": b.scope}
        out.append(PrometheusSlo(b.spec, selector))
    return out


def _value(v: float | None) -> float:
    # No data is unknown, not 100% and not 0%: Prometheus gets NaN.
    return math.nan if v is None else v


class SloCollector(Collector):
    """SLO families computed at scrape time from the store (flushed data only)."""

    def __init__(self, store: ProbeStore, bindings: Sequence[SloBinding],
                 clock: object) -> None:
        self._store = store
        self.bindings = tuple(bindings)
        self._clock = clock

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
        minutes = GaugeMetricFamily(
            "omniwatch_error_budget_remaining_minutes",
            "Error budget left, as minutes of full outage.", labels=("slo",))
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
        for st in evaluate_all(self._store, self.bindings, now):
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
                minutes.add_metric([name], _value(o.budget_remaining_minutes))
                exhaustion.add_metric([name], math.inf if o.exhaustion_seconds is None
                                      else o.exhaustion_seconds)
                status.add_metric([name], ALERT_STATE_VALUES[o.alert])
        yield from (objective, sli, remaining, minutes, burn, exhaustion, status)
