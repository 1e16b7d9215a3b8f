"""The built-in alert rules: pure functions from :class:`~alerts.facts.RuleInputs` to
:class:`~alerts.model.Signal` lists.

One function per rule name of :data:`~alerts.config.RULE_NAMES`, in :data:`RULES`; a
disabled rule emits nothing.  The state machine (:mod:`alerts.engine`) turns signals into
pending, firing and resolved alerts; a rule only says what holds *now*, reading the
engine's current alerts (``previous``) where the answer depends on history: hysteresis,
and alerts kept while their input cannot be read.

Every signal carries ``alertname`` and ``severity``; annotations are short strings made
from configuration names, counts and probe reasons, never from customer data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

from alerts.annotate import (
    alert_labels,
    annotation_set,
    budget_text,
    cut,
    duration_text,
    iso_utc,
    names_text,
    objective_text,
    percent,
)
from alerts.config import RULE_NAMES, RulesConfig
from alerts.facts import RuleInputs, SloFacts, TargetFacts
from alerts.model import Alert, Labels, Signal, fingerprint

DownState = Literal["firing", "pending"] | None
# Windows quoted when the facts do not say which rows fire: the first row of each
# severity of the SRE Workbook's 30-day table.
_FALLBACK_WINDOWS: Final = {"page": ("1h", "5m"), "ticket": ("1d", "2h")}


@dataclass(frozen=True, slots=True)
class TargetVerdict:
    """The target-down condition of one target in this evaluation.

    ``state`` is ``firing`` (down, hysteresis included), ``pending`` or None;
    ``counted`` says whether it weighs in its channel's share (an excluded target that
    was not already down does not: nobody expects it to answer now).  ``labels`` (the
    TargetDown label set) and ``current`` (the engine's pending or firing alert with
    them) are filled only for a target with a state.
    """

    facts: TargetFacts
    state: DownState
    counted: bool
    labels: Labels = ()
    current: Alert | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What every rule reads: the inputs, thresholds, current alerts, and the
    target verdicts both target_down and channel_down use."""

    inputs: RuleInputs
    rules: RulesConfig
    previous: Mapping[str, Alert]
    targets: Sequence[TargetVerdict]

    def since(self, labels: Labels, began: float | None = None) -> float:
        """When the alert with ``labels`` became active: the current (pending or firing)
        alert's start, else ``began`` when the facts know it, else now."""
        alert = self.previous.get(fingerprint(labels))
        if alert is not None and alert.status != "resolved":
            return alert.active_since
        return self.inputs.now if began is None else began

    def carry(self, labels: Labels) -> list[Signal]:
        """The current pending or firing alert with ``labels``, re-emitted unchanged."""
        alert = self.previous.get(fingerprint(labels))
        return [] if alert is None else carried(alert)


def carried(alert: Alert) -> list[Signal]:
    """``alert`` as a signal again, if it is pending or firing (else nothing)."""
    if alert.status == "resolved":
        return []
    return [Signal(labels=alert.labels, annotations=alert.annotations,
                   firing=alert.status == "firing", active_since=alert.active_since)]


def _target_labels(t: TargetFacts, alertname: str, severity: str | None = None) -> Labels:
    sev = severity or dict(t.labels).get("severity") or "warning"
    return alert_labels(t.labels, alertname=alertname, channel=t.channel, target=t.name,
                        severity=sev)


def _current_target_alerts(previous: Mapping[str, Alert]) -> dict[tuple[str, str], Alert]:
    out = {}
    for a in previous.values():
        labels = dict(a.labels)
        if a.status != "resolved" and labels.get("alertname") == "TargetDown":
            out[(labels.get("channel", ""), labels.get("target", ""))] = a
    return out


def target_verdicts(inputs: RuleInputs, rules: RulesConfig,
                    previous: Mapping[str, Alert]) -> list[TargetVerdict]:
    """The target-down condition of every target (hysteresis from ``previous``), in
    the order of ``inputs.targets``."""
    # Indexed by (channel, target) so the many healthy targets of a big configuration
    # cost neither a label set nor a fingerprint (the evaluation runs every few seconds).
    current = _current_target_alerts(previous)
    out = []
    for t in inputs.targets:
        prev = current.get((t.channel, t.name))
        if prev is None and t.consecutive_failures == 0:
            out.append(TargetVerdict(t, None, t.excluded is None))
            continue
        labels = _target_labels(t, "TargetDown")
        if prev is not None and prev.labels != labels:
            prev = None  # its labels changed (a reload): a different alert now
        was_firing = prev is not None and prev.status == "firing"
        state: DownState = None
        if t.excluded is not None:
            # Excluded results move no counter, so a firing alert keeps its state until
            # counted results say otherwise; nothing new starts inside the exclusion.
            state = "firing" if was_firing else None
        elif t.consecutive_failures >= rules.target_down_after or (
                was_firing and t.consecutive_successes < rules.target_down_resolve_after):
            state = "firing"
        elif t.consecutive_failures > 0:
            state = "pending"
        out.append(TargetVerdict(t, state, t.excluded is None or was_firing, labels, prev))
    return out


def _target_down_annotations(t: TargetFacts, summary: str) -> Labels:
    # Built in key order rather than through annotation_set: a storm of 10,000 down
    # targets makes this the hottest line of an evaluation.  Reason and probe kind are
    # short identifiers; only the free texts need cutting.
    pairs = [("detail", cut(t.last_detail))] if t.last_detail else []
    pairs += [("failures", str(t.consecutive_failures)), ("probe", t.kind)]
    if t.last_reason:
        pairs.append(("reason", cut(t.last_reason)))
    pairs.append(("summary", cut(summary)))
    return tuple(pairs)


def target_down(ev: Evaluation) -> list[Signal]:
    """TargetDown: N consecutive counted failures, resolved after M successes."""
    rules, out = ev.rules, []
    for v in ev.targets:
        if v.state is None:
            continue
        t, prev = v.facts, v.current
        if prev is not None and v.state == "firing" and (
                t.excluded is not None
                or t.consecutive_failures == t.consecutive_successes == 0):
            # Kept as it was: an exclusion measures nothing, and neither has a target
            # with no counted result since a restart.
            out += carried(prev)
            continue
        where = f"{t.name} in {t.channel}"
        if v.state == "pending":
            summary = (f"{where} is failing: {t.consecutive_failures} of "
                       f"{rules.target_down_after} failed probes before it is down")
        elif t.consecutive_failures > 0:
            summary = (f"{where} is down: {t.last_reason or 'failed'}, "
                       f"{t.consecutive_failures} failed probes in a row")
        else:
            summary = (f"{where} is recovering: {t.consecutive_successes} of "
                       f"{rules.target_down_resolve_after} successes before it resolves")
        # An outage that was firing keeps its start through a flap; a pending alert is
        # only as old as the current run of failures.
        firing_before = prev is not None and prev.status == "firing"
        began = prev.active_since if prev is not None and firing_before else t.failing_since
        out.append(Signal(
            labels=v.labels,
            annotations=_target_down_annotations(t, summary),
            firing=v.state == "firing",
            active_since=ev.inputs.now if began is None else began))
    return out


def _channel_groups(ev: Evaluation) -> dict[str, tuple[Labels, list[TargetVerdict]]]:
    groups: dict[str, tuple[Labels, list[TargetVerdict]]] = {
        c.name: (c.labels, []) for c in ev.inputs.channels}
    for v in ev.targets:
        groups.setdefault(v.facts.channel, ((), []))[1].append(v)
    return groups


def _worst_first(v: TargetVerdict) -> tuple[bool, float, int, str]:
    since = v.facts.failing_since
    return (since is None, since or 0.0, -v.facts.consecutive_failures, v.facts.name)


def channel_down(ev: Evaluation) -> list[Signal]:
    """ChannelDown: at least ``share`` of a channel's counted targets are down."""
    out = []
    for channel, (labels, verdicts) in sorted(_channel_groups(ev).items()):
        counted = [v for v in verdicts if v.counted]
        down = sorted((v for v in counted if v.state == "firing"), key=_worst_first)
        # As a ratio, not share * count: 3 of 10 must meet 30% (0.3 * 10 > 3 in floats).
        if not down or len(down) / len(counted) + 1e-9 < ev.rules.channel_down_share:
            continue
        reasons = Counter(v.facts.last_reason or "failed" for v in down)
        reason_text = ", ".join(f"{r} x{n}" for r, n in
                                sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
        own = alert_labels(labels, alertname="ChannelDown", channel=channel, severity="page")
        starts = [v.facts.failing_since for v in down if v.facts.failing_since is not None]
        out.append(Signal(
            labels=own,
            annotations=annotation_set(
                summary=f"Channel {channel} is down: {len(down)} of {len(counted)} "
                        f"targets down", down=f"{len(down)} of {len(counted)}",
                reasons=reason_text, targets=names_text([v.facts.name for v in down])),
            active_since=ev.since(own, min(starts) if starts else None)))
    return out


def _slo_labels(s: SloFacts, alertname: str, severity: str) -> Labels:
    return alert_labels(s.labels, alertname=alertname, slo=s.slo, channel=s.channel,
                        target=s.target or "", severity=severity)


def _carry_slo_alerts(ev: Evaluation, alertname: str) -> list[Signal]:
    # The SLOs could not be computed (the store is down): an unreadable history proves
    # neither an outage nor a recovery, so the SLO alerts stay exactly as they were.
    return sorted((s for a in ev.previous.values() if a.label("alertname") == alertname
                   for s in carried(a)), key=lambda s: s.labels)


def _slo_context(s: SloFacts) -> dict[str, str | None]:
    return {"sli": None if s.sli is None else percent(s.sli),
            "objective": objective_text(s.objective),
            "budget_left": None if s.budget_remaining_ratio is None
            else budget_text(s.budget_remaining_ratio)}


def _burn_text(s: SloFacts, severity: str) -> tuple[str, float]:
    """The quoted burn rates ("15.2x over 1h, 14.8x over 5m") and the fastest of them.

    The long and short window of the first firing row of ``severity`` (the table lists
    the fastest burn first): the two rates that made it fire, known ones only.
    """
    windows = (s.page_windows if severity == "page" else s.ticket_windows)[:2]
    quoted = [w for w in windows or _FALLBACK_WINDOWS[severity]
              if s.burn_rates.get(w) is not None]
    rates = [(w, s.burn_rates[w] or 0.0) for w in quoted]
    return (", ".join(f"{r:.1f}x over {w}" for w, r in rates),
            max((r for _, r in rates), default=0.0))


def burn_rate(ev: Evaluation) -> list[Signal]:
    """SloBurnRate: one alert per SLO and severity whose multi-window row fires."""
    if ev.inputs.slos is None:
        return _carry_slo_alerts(ev, "SloBurnRate")
    out = []
    for s in sorted(ev.inputs.slos, key=lambda s: s.slo):
        for severity, fires in (("page", s.page), ("ticket", s.ticket)):
            if not fires:
                continue
            labels = _slo_labels(s, "SloBurnRate", severity)
            text, fastest = _burn_text(s, severity)
            pace = f"{fastest:.1f}x " if text else ""
            out.append(Signal(
                labels=labels,
                annotations=annotation_set(
                    summary=f"SLO {s.slo} burns its error budget {pace}too fast ({severity})",
                    burn_rate=text or None, **_slo_context(s)),
                active_since=ev.since(labels)))
    return out


def budget_exhausted(ev: Evaluation) -> list[Signal]:
    """ErrorBudgetExhausted: nothing (or less) left of an SLO's error budget."""
    if ev.inputs.slos is None:
        return _carry_slo_alerts(ev, "ErrorBudgetExhausted")
    out = []
    for s in sorted(ev.inputs.slos, key=lambda s: s.slo):
        if s.budget_remaining_ratio is None or s.budget_remaining_ratio > 0.0:
            continue
        labels = _slo_labels(s, "ErrorBudgetExhausted", "ticket")
        ctx = _slo_context(s)
        out.append(Signal(
            labels=labels,
            annotations=annotation_set(
                summary=f"SLO {s.slo} has spent its error budget ({ctx['budget_left']} left)",
                **ctx),
            active_since=ev.since(labels)))
    return out


def consistency(ev: Evaluation) -> list[Signal]:
    """ConsistencyBelowObjective, and ConsistencyCheckFailing when a check cannot run."""
    out = []
    for c in sorted(ev.inputs.consistency, key=lambda c: (c.channel, c.reference)):
        below = alert_labels(c.labels, alertname="ConsistencyBelowObjective",
                             channel=c.channel, reference=c.reference, severity="ticket")
        if c.error is not None:
            failing = alert_labels(c.labels, alertname="ConsistencyCheckFailing",
                                   channel=c.channel, reference=c.reference,
                                   severity="warning")
            out.append(Signal(
                labels=failing,
                annotations=annotation_set(
                    summary=f"The consistency check of {c.channel} against {c.reference} "
                            f"could not run", error=c.error),
                active_since=ev.since(failing)))
            # A broken check proves nothing: the last verdict stands until one runs.
            out += ev.carry(below)
            continue
        # As the report's meets_objective: a ratio equal to the objective meets it, even
        # when float division lands a hair below.
        if c.ratio is None or c.ratio >= c.objective or math.isclose(c.ratio, c.objective):
            continue
        ratio = percent(c.ratio)
        out.append(Signal(
            labels=below,
            annotations=annotation_set(
                summary=f"{c.channel} agrees with {c.reference} on {ratio} of records, "
                        f"below the {objective_text(c.objective)} objective",
                ratio=ratio, objective=objective_text(c.objective), field=c.worst_field,
                judged=str(c.judged)),
            active_since=ev.since(below, c.at or None)))  # the check that found it
    return out


def cert_expiry(ev: Evaluation) -> list[Signal]:
    """CertificateExpiring within ``warn_before``, CertificateExpired once past."""
    now, out = ev.inputs.now, []
    # Exclusions are not consulted: maintenance and service hours pause the SLI, not the
    # calendar, and a certificate that expires during a maintenance is just as expired
    # when the channel opens again — better to hear of it before.
    for v in ev.targets:
        t = v.facts
        expiry = t.cert_expiry
        if expiry is None:
            continue
        where = f"{t.name} in {t.channel}"
        if expiry <= now:
            labels = _target_labels(t, "CertificateExpired", "page")
            left = f"expired {duration_text(now - expiry)} ago"
            summary = f"The certificate of {where} {left}"
            since = expiry
        elif expiry <= now + ev.rules.cert_warn_before_seconds:
            labels = _target_labels(t, "CertificateExpiring", "ticket")
            left = duration_text(expiry - now)
            summary = f"The certificate of {where} expires in {left}"
            since = expiry - ev.rules.cert_warn_before_seconds
        else:
            continue
        out.append(Signal(
            labels=labels,
            annotations=annotation_set(summary=summary, expires_at=iso_utc(expiry),
                                       expires_in=left),
            active_since=since))
    return out


def self_health(ev: Evaluation) -> list[Signal]:
    """ProbesLate, StoreWritesFailing, NotificationsFailing: omniwatch's own health."""
    h, limit, out = ev.inputs.health, ev.rules.probes_late_seconds, []
    late = h.probe_lateness_seconds

    def own(alertname: str, **extra: str) -> Labels:
        return alert_labels((), alertname=alertname, severity="warning",
                            component="omniwatch", **extra)

    if (late is not None and late > limit) or h.skipped_runs > 0:
        labels = own("ProbesLate")
        lateness = "n/a" if late is None else f"{late:.1f}s"
        out.append(Signal(
            labels=labels,
            annotations=annotation_set(
                summary=f"Probes start late: {lateness} behind schedule on average, "
                        f"{h.skipped_runs} runs skipped", lateness=lateness,
                skipped=str(h.skipped_runs)),
            active_since=ev.since(labels)))
    if h.store_error is not None:
        labels = own("StoreWritesFailing", error=h.store_error)
        out.append(Signal(
            labels=labels,
            annotations=annotation_set(
                summary=f"History store writes fail ({h.store_error})", error=h.store_error),
            active_since=ev.since(labels, h.store_failing_since)))
    for receiver, code in sorted(h.failing_receivers.items()):
        labels = own("NotificationsFailing", receiver=receiver)
        out.append(Signal(
            labels=labels,
            annotations=annotation_set(
                summary=f"Notifications to {receiver} fail ({code})", error=code),
            active_since=ev.since(labels)))
    return out


Rule = Callable[[Evaluation], list[Signal]]
RULES: Final[Mapping[str, Rule]] = {
    "target_down": target_down,
    "channel_down": channel_down,
    "burn_rate": burn_rate,
    "budget_exhausted": budget_exhausted,
    "consistency": consistency,
    "cert_expiry": cert_expiry,
    "self_health": self_health,
}
assert tuple(RULES) == RULE_NAMES  # one function per configurable rule name, same order


def evaluate(inputs: RuleInputs, rules: RulesConfig,
             previous: Mapping[str, Alert]) -> list[Signal]:
    """Every enabled rule's signals at ``inputs.now``.

    Deterministic whatever the order of the inputs: rules in
    :data:`~alerts.config.RULE_NAMES` order; within a rule, targets by channel and name,
    SLOs by name, consistency checks by channel; each label set once (the first wins).
    """
    targets = sorted(inputs.targets, key=lambda t: (t.channel, t.name))
    ev = Evaluation(inputs, rules, previous,
                    target_verdicts(replace(inputs, targets=targets), rules, previous))
    out: list[Signal] = []
    seen: set[Labels] = set()
    for name, rule in RULES.items():
        if not rules.enabled(name):
            continue
        for signal in rule(ev):
            if signal.labels not in seen:
                seen.add(signal.labels)
                out.append(signal)
    return out
