"""The built-in alert rules: pure functions from :class:`~alerts.facts.RuleInputs` to
:class:`~alerts.model.Signal` lists.

One function per rule name of :data:`~alerts.config.RULE_NAMES`, in :data:`RULES` (the
SLO and consistency ones in :mod:`alerts.rules_objectives`); a disabled rule emits
nothing.  The state machine (:mod:`alerts.engine`) turns signals into
pending, firing and resolved alerts; a rule only says what holds *now*, reading the
engine's current alerts (``previous``) where the answer depends on history: hysteresis,
and alerts kept while their input cannot be read.

Every signal carries ``alertname`` and ``severity``; annotations are short strings made
from configuration names, counts and probe reasons, never from customer data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Final

from alerts.annotate import (
    alert_labels,
    annotation_set,
    cut,
    duration_text,
    iso_utc,
    names_text,
)
from alerts.config import RULE_NAMES, RulesConfig
from alerts.evaluation import DownState, Evaluation, TargetVerdict, carried
from alerts.facts import RuleInputs, TargetFacts
from alerts.model import Alert, Labels, Signal
from alerts.rules_objectives import budget_exhausted, burn_rate, consistency


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
    # No failure count: annotations that change with every probe would make every down
    # target a store write on every evaluation (the summary of a pending alert counts,
    # but only up to ``after``).
    pairs = [("detail", cut(t.last_detail))] if t.last_detail else []
    pairs.append(("probe", t.kind))
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
            summary = f"{where} is down: {t.last_reason or 'failed'}"
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
