"""The adapter from the monitor's state to what the alert rules read (:mod:`alerts.facts`).

Pure: everything comes in as arguments (configuration, probe state, SLO statuses, the
latest consistency reports, health, the exclusion calendar).  The rules never see a
probe result, an SLO spec or a report, only these plain snapshots.  The one thing kept
between evaluations is an optional :class:`FactsCache` the caller owns: the same facts
object for a target whose state did not change, which is what lets the rules skip it.
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

# (dataset, channel): what the latest consistency reports are kept by.
ReportKey = tuple[str, str]
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
    # Asked for now, not taken from the latest result: a target whose maintenance began
    # after its last probe is already excluded.
    return _facts(channel, target, st, _labels(channel, target),
                  excluded(channel.name, target.name, now))


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
    if not statuses:
        return []
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
        channel=report.channel, reference=report.reference, dataset=report.dataset,
        labels=() if channel is None else _labels(channel),
        ratio=report.ratio, objective=report.objective, error=report.error,
        worst_field=worst[0][1] if worst else None,
        judged=report.judged if report.success else 0,
        at=report.started_at.timestamp())


# What a cached TargetFacts was built from: the state object, its version, the exclusion.
_Built = tuple[TargetState | None, int, str | None, TargetFacts]


class FactsCache:
    """Facts kept between evaluations by their owner (one per alerting service).

    Per configuration: the channels' facts and every target's merged labels.  Per
    target: its last :class:`TargetFacts`, returned again (the same object) while the
    target's state object, its :attr:`~TargetState.version` and its exclusion are
    unchanged, so that 10,000 targets cost 10,000 look-ups a tick rather than 10,000
    new snapshots and label sets.
    """

    __slots__ = ("_built", "_channels", "_config", "_slos", "_targets")

    def __init__(self) -> None:
        self._config: Config | None = None
        self._channels: tuple[ChannelFacts, ...] = ()
        self._targets: tuple[tuple[Channel, Target, Labels], ...] = ()
        self._built: dict[str, _Built] = {}
        self._slos: tuple[Sequence[SloStatus], tuple[SloFacts, ...]] | None = None

    def channels(self, config: Config) -> tuple[ChannelFacts, ...]:
        """The facts of every channel of ``config`` (a new config starts afresh)."""
        if config is not self._config:
            self._config = config
            self._channels = tuple(ChannelFacts(c.name, _labels(c),
                                                tuple(t.name for t in c.targets))
                                   for c in config.channels)
            self._targets = tuple((c, t, _labels(c, t)) for c in config.channels
                                  for t in c.targets)
            self._built = {}
            self._slos = None
        return self._channels

    def slos(self, config: Config, statuses: Sequence[SloStatus]) -> tuple[SloFacts, ...]:
        """:func:`slo_facts`, made again only for other statuses (they are refreshed
        less often than the rules run).  Call :meth:`channels` first."""
        if self._slos is None or self._slos[0] is not statuses:
            self._slos = (statuses, tuple(slo_facts(config, statuses)))
        return self._slos[1]

    def targets(self, state: ProbeState, now: float,
                excluded: Excluded) -> tuple[TargetFacts, ...]:
        """The facts of every target of the config :meth:`channels` was last given, in
        its order; a target's are the previous call's object while its state object,
        its version and its exclusion are the same."""
        built, states, out = self._built, state.targets, []
        for c, t, labels in self._targets:
            st = states.get(t.name)
            if st is not None and (st.channel != c.name or st.kind != t.kind):
                st = None  # a reload moved it; its old counters describe another probe
            # Asked for now, not taken from the latest result: a target whose
            # maintenance began after its last probe is already excluded.
            why = excluded(c.name, t.name, now)
            version = -1 if st is None else st.version
            hit = built.get(t.name)
            if hit is None or hit[0] is not st or hit[1] != version or hit[2] != why:
                hit = built[t.name] = (st, version, why, _facts(c, t, st, labels, why))
            out.append(hit[3])
        return tuple(out)


def _facts(channel: Channel, target: Target, st: TargetState | None, labels: Labels,
           excluded: str | None) -> TargetFacts:
    failure = None if st is None else st.last_failure
    last = None if st is None else st.last
    return TargetFacts(
        name=target.name, channel=channel.name, kind=target.kind, labels=labels,
        consecutive_failures=0 if st is None else st.consecutive_failures,
        consecutive_successes=0 if st is None else st.consecutive_successes,
        failing_since=None if st is None else st.failing_since,
        last_reason=None if failure is None else failure.reason,
        last_detail="" if failure is None else failure.message,
        last_at=None if last is None else last.started_at,
        excluded=excluded, cert_expiry=None if st is None else st.cert_expiry)


def rule_inputs(config: Config, state: ProbeState, *, now: float,
                slo_statuses: Sequence[SloStatus] | None,
                consistency: Mapping[ReportKey, ConsistencyReport],
                health: HealthFacts, excluded: Excluded,
                cache: FactsCache | None = None) -> RuleInputs:
    """Everything one evaluation of the rules reads, at ``now``.

    ``slo_statuses`` is None when the SLOs could not be computed (the store is down);
    ``consistency`` is the latest report per (dataset, channel); ``excluded`` is
    :meth:`monitor.slo.exclusions.Exclusions.reason`.  Targets come in configuration
    order; one that has not been probed yet has zero counters.  With a ``cache``, the
    result is equal to the one without, and unchanged targets' facts are the very
    objects of the previous call.
    """
    cache = FactsCache() if cache is None else cache
    channels = cache.channels(config)
    targets = cache.targets(state, now, excluded)
    return RuleInputs(
        now=now, targets=targets, channels=channels,
        slos=None if slo_statuses is None else cache.slos(config, slo_statuses),
        consistency=tuple(consistency_facts(config, r)
                          for _, r in sorted(consistency.items())),
        health=health, consistency_awaited=_awaited(config, consistency))


def _awaited(config: Config, latest: Mapping[ReportKey, ConsistencyReport]
             ) -> tuple[tuple[str, str, str], ...]:
    return tuple((cfg.dataset, c, cfg.reference) for cfg in config.consistency
                 for c in cfg.channels if (cfg.dataset, c) not in latest)
