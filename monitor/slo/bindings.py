"""Bind the configuration to the SLO math: which SLOs exist, what is excluded, and status.

Every channel has an SLO named after it; a target with its own ``slo:`` gets one more,
named ``target:<name>``.  A latency objective is exported as a second SLO named
``<name>-latency``, as the Prometheus rules do, so every series keeps the ``{slo}`` or
``{slo,window}`` labels of the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from monitor.config.cron import CronSchedule
from monitor.config.model import Config, SloConfig
from monitor.slo.budget import SloSpec, SloStatus, duration_label, evaluate
from monitor.slo.budget import month_start as _month_start
from monitor.slo.exclusions import Exclusions, MaintenanceWindow
from monitor.slo.rules import PrometheusSlo

if TYPE_CHECKING:
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
