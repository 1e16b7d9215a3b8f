"""The adapter from the monitor's state to what the alert rules read (:mod:`alerts.facts`).

Pure: everything comes in as arguments (configuration, probe state, SLO statuses, the
latest consistency reports, health, the exclusion calendar) and nothing is kept.  The
rules never see a probe result, an SLO spec or a report, only these plain snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from alerts.facts import (
    ChannelFacts,
    ConsistencyFacts,
    HealthFacts,
    RuleInputs,
    SloFacts,
    TargetFacts,
)
from alerts.model import Labels, labelset
from monitor.config.model import Channel, Config, Target
from monitor.consistency.model import ConsistencyReport
from monitor.metrics.state import ProbeState, TargetState
from monitor.slo.bindings import SloBinding, slo_bindings
from monitor.slo.budget import ObjectiveStatus, SloStatus

# (channel, target, now) -> why a probe now would not be counted, or None.
Excluded = Callable[[str, str, float], str | None]


def _labels(channel: Channel, target: Target | None = None) -> Labels:
    merged = dict(channel.labels)
    if target is not None:
        merged.update(target.labels)  # the target's own labels win over its channel's
    return labelset(merged)


def target_facts(channel: Channel, target: Target, st: TargetState | None, *, now: float,
                 excluded: Excluded) -> TargetFacts:
    """One target's facts.  ``last_reason`` and ``last_detail`` are those of the latest
    *counted* failure: a recovering target's alert still says why it went down."""
    failure = None if st is None else st.last_failure
    last = None if st is None else st.last
    return TargetFacts(
        name=target.name, channel=channel.name, kind=target.kind,
        labels=_labels(channel, target),
        consecutive_failures=0 if st is None else st.consecutive_failures,
        consecutive_successes=0 if st is None else st.consecutive_successes,
        failing_since=None if st is None else st.failing_since,
        last_reason=None if failure is None else failure.reason,
        last_detail="" if failure is None else failure.message,
        last_at=None if last is None else last.started_at,
        # Asked for now, not taken from the latest result: a target whose maintenance
        # began after its last probe is already excluded.
        excluded=excluded(channel.name, target.name, now),
        cert_expiry=None if st is None else st.cert_expiry)


def _slo_facts(name: str, binding: SloBinding, labels: Labels, status: SloStatus,
               o: ObjectiveStatus) -> SloFacts:
    def windows(severity: str) -> tuple[str, ...]:
        return tuple(w for row in o.firing if row.severity == severity
                     for w in (row.long, row.short))

    return SloFacts(
        slo=name, channel=binding.channel,
        target=binding.scope if binding.kind == "target" else None, labels=labels,
        objective=o.objective,
        page=any(row.severity == "page" for row in o.firing),
        ticket=any(row.severity == "ticket" for row in o.firing),
        burn_rates=dict(o.burn_rates), page_windows=windows("page"),
        ticket_windows=windows("ticket"), sli=o.sli.get(status.spec.period),
        budget_remaining_ratio=o.budget_remaining_ratio)


def slo_facts(config: Config, statuses: Sequence[SloStatus]) -> list[SloFacts]:
    """Facts per SLO status: availability under the SLO's name, and the latency objective
    (if any) as ``NAME-latency``, as the metrics export them.  Statuses of SLOs the
    configuration no longer has (a reload raced the computation) are left out."""
    bindings = {b.spec.name: b for b in slo_bindings(config)}
    channels = {c.name: c for c in config.channels}
    targets = {t.name: t for t in config.targets}
    out = []
    for status in statuses:
        b = bindings.get(status.spec.name)
        channel = None if b is None else channels.get(b.channel)
        if b is None or channel is None:
            continue
        target = targets.get(b.scope) if b.kind == "target" else None
        labels = _labels(channel, target)
        out.append(_slo_facts(status.spec.name, b, labels, status, status.availability))
        if status.latency is not None:
            out.append(_slo_facts(f"{status.spec.name}-latency", b, labels, status,
                                  status.latency))
    return out


def consistency_facts(config: Config, report: ConsistencyReport) -> ConsistencyFacts:
    """Facts of one channel's latest report; ``worst_field`` names the field with the
    most mismatches (ties: the first by name), never a value."""
    channel = next((c for c in config.channels if c.name == report.channel), None)
    worst = sorted(((-n, f) for f, n in report.field_mismatches.items() if n > 0))
    return ConsistencyFacts(
        channel=report.channel, reference=report.reference,
        labels=() if channel is None else _labels(channel),
        ratio=report.ratio, objective=report.objective, error=report.error,
        worst_field=worst[0][1] if worst else None,
        judged=report.judged if report.success else 0,
        at=report.started_at.timestamp())


def rule_inputs(config: Config, state: ProbeState, *, now: float,
                slo_statuses: Sequence[SloStatus] | None,
                consistency: Mapping[str, ConsistencyReport],
                health: HealthFacts, excluded: Excluded) -> RuleInputs:
    """Everything one evaluation of the rules reads, at ``now``.

    ``slo_statuses`` is None when the SLOs could not be computed (the store is down);
    ``consistency`` is the latest report per channel; ``excluded`` is
    :meth:`monitor.slo.exclusions.Exclusions.reason`.  Targets come in configuration
    order; one that has not been probed yet has zero counters.
    """
    targets = []
    channels = []
    for c in config.channels:
        channels.append(ChannelFacts(c.name, _labels(c), tuple(t.name for t in c.targets)))
        for t in c.targets:
            st = state.targets.get(t.name)
            if st is not None and (st.channel, st.kind) != (c.name, t.kind):
                st = None  # a reload moved it; its old counters describe another probe
            targets.append(target_facts(c, t, st, now=now, excluded=excluded))
    return RuleInputs(
        now=now, targets=tuple(targets), channels=tuple(channels),
        slos=None if slo_statuses is None else tuple(slo_facts(config, slo_statuses)),
        consistency=tuple(consistency_facts(config, r)
                          for _, r in sorted(consistency.items())),
        health=health, consistency_awaited=_awaited(config, consistency))


def _awaited(config: Config,
             latest: Mapping[str, ConsistencyReport]) -> tuple[tuple[str, str], ...]:
    cfg = config.consistency
    if cfg is None:
        return ()
    return tuple((s.name, cfg.reference) for s in cfg.sources
                 if s.name != cfg.reference and s.name not in latest)
