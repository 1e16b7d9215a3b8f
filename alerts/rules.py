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

import heapq
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final, cast

from alerts.annotate import (
    NAMES_SHOWN,
    alert_labels,
    annotation_set,
    cut,
    duration_text,
    iso_utc,
    names_text,
)
from alerts.config import RULE_NAMES, RulesConfig
from alerts.evaluation import (
    Decided,
    DownState,
    Evaluation,
    RuleMemo,
    TargetVerdict,
    carried,
)
from alerts.facts import RuleInputs, TargetFacts
from alerts.model import Alert, Labels, Signal, fingerprint
from alerts.rules_objectives import budget_exhausted, burn_rate, consistency


def _target_labels(t: TargetFacts, alertname: str, severity: str | None = None) -> Labels:
    sev = severity or dict(t.labels).get("severity") or "warning"
    return alert_labels(t.labels, alertname=alertname, channel=t.channel, target=t.name,
                        severity=sev)


def _current_target_alerts(
        previous: Mapping[str, Alert]) -> dict[tuple[str, str], list[Alert]]:
    out: dict[tuple[str, str], list[Alert]] = {}
    for a in previous.values():
        if a.status != "resolved" and a.label("alertname") == "TargetDown":
            out.setdefault((a.label("channel"), a.label("target")), []).append(a)
    return out


def target_verdicts(inputs: RuleInputs, rules: RulesConfig,
                    previous: Mapping[str, Alert],
                    memo: RuleMemo | None = None) -> list[TargetVerdict]:
    """The target-down condition of every target (hysteresis from ``previous``), in
    the order of ``inputs.targets``; with a ``memo``, unchanged targets' verdicts are
    the previous evaluation's (the same either way)."""
    if memo is not None:
        return _remembered_verdicts(memo, inputs.targets, rules, previous)
    # Indexed by (channel, target) so the many healthy targets of a big configuration
    # cost neither a label set nor a fingerprint (the evaluation runs every few seconds).
    current = _current_target_alerts(previous)
    out = []
    for t in inputs.targets:
        alerts = current.get((t.channel, t.name))
        if alerts is None and t.consecutive_failures == 0:
            out.append(TargetVerdict(t, None, t.excluded is None))
            continue
        labels = _target_labels(t, "TargetDown")
        # One whose labels changed (a reload) is a different alert now.
        prev = next((a for a in alerts or () if a.labels == labels), None)
        out.append(_verdict(t, rules, labels, prev))
    return out


def _remembered_verdicts(memo: RuleMemo, targets: Sequence[TargetFacts], rules: RulesConfig,
                         previous: Mapping[str, Alert]) -> list[TargetVerdict]:
    """:func:`target_verdicts` through the memo: a target's TargetDown labels and their
    fingerprint are made once per label set, its current alert is found by fingerprint,
    and its verdict is decided again only when its facts or its alert changed."""
    entries, tick, out = memo.targets, memo.tick, []
    for t in targets:
        d = entries.get(t.name)
        if d is None or d.source is not t.labels or d.channel != t.channel:
            labels = _target_labels(t, "TargetDown")
            d = entries[t.name] = Decided(t.channel, t.labels, labels, fingerprint(labels))
        tick.append(d)
        prev = previous.get(d.fingerprint)
        if prev is not None and (prev.status == "resolved" or (
                prev.labels is not d.labels and prev.labels != d.labels)):
            prev = None
        if d.verdict is None or d.facts is not t or d.current is not prev:
            if prev is None and t.consecutive_failures == 0:
                d.verdict = TargetVerdict(t, None, t.excluded is None)
            else:
                d.verdict = _verdict(t, rules, d.labels, prev)
            d.facts, d.current = t, prev
        out.append(d.verdict)
    return out


def _verdict(t: TargetFacts, rules: RulesConfig, labels: Labels,
             prev: Alert | None) -> TargetVerdict:
    """The verdict of a target that fails or has a current alert (``prev``, with the
    TargetDown ``labels``)."""
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
    return TargetVerdict(t, state, t.excluded is None or was_firing, labels, prev)


def _target_down_annotations(detail: str, kind: str, reason: str | None,
                              summary: str) -> Labels:
    # Built in key order rather than through annotation_set: a storm of 10,000 down
    # targets makes this the hottest line of an evaluation.  Reason and probe kind are
    # short identifiers; only the free texts need cutting.
    # No failure count: annotations that change with every probe would make every down
    # target a store write on every evaluation (the summary of a pending alert counts,
    # but only up to ``after``).
    pairs = [("detail", cut(detail))] if detail else []
    pairs.append(("probe", kind))
    if reason:
        pairs.append(("reason", cut(reason)))
    pairs.append(("summary", cut(summary)))
    return tuple(pairs)


def target_down(ev: Evaluation) -> list[Signal]:
    """TargetDown: N consecutive counted failures, resolved after M successes."""
    out: list[Signal] = []
    if len(ev.decided) != len(ev.targets):  # no memo
        for v in ev.targets:
            if v.state is not None:
                out += _target_down(ev, _target_down_basis(ev, v))
        return out
    for v, d in zip(ev.targets, ev.decided, strict=True):
        if v.state is None:
            continue
        if d.signals is None or d.signals_of is not v:
            basis = _target_down_basis(ev, v)
            # The same basis as the last signals (a down target probed again, no news):
            # those very objects again, so that the engine sees nothing new either.
            if d.signals is None or basis != d.basis:
                d.signals, d.basis = _target_down(ev, basis, d.fingerprint), basis
            d.signals_of = v if _timeless(basis) else None
        out += d.signals
    return out


def _target_down_basis(ev: Evaluation, v: TargetVerdict) -> tuple[object, ...]:
    """Everything the TargetDown signal of a target with a state is made from: equal
    bases make equal signals, so a memo compares these instead of building one."""
    rules, t, prev = ev.rules, v.facts, v.current
    if prev is not None and v.state == "firing" and (
            t.excluded is not None
            or t.consecutive_failures == t.consecutive_successes == 0):
        # Kept as it was: an exclusion measures nothing, and neither has a target
        # with no counted result since a restart.
        return ("carried", prev)
    if v.state == "pending":
        what: tuple[object, ...] = (
            "failing", t.consecutive_failures, rules.target_down_after)
    elif t.consecutive_failures > 0:
        what = ("down",)
    else:
        what = ("recovering", t.consecutive_successes, rules.target_down_resolve_after)
    # An outage that was firing keeps its start through a flap; a pending alert is
    # only as old as the current run of failures.
    firing_before = prev is not None and prev.status == "firing"
    began = prev.active_since if prev is not None and firing_before else t.failing_since
    return (what, v.labels, t.name, t.channel, t.kind, t.last_reason, t.last_detail,
            v.state == "firing", began)


def _timeless(basis: tuple[object, ...]) -> bool:
    """Whether the signal of ``basis`` holds whatever the time (it knows its start)."""
    return basis[0] == "carried" or basis[-1] is not None


def _target_down(ev: Evaluation, basis: tuple[object, ...],
                 fp: str | None = None) -> list[Signal]:
    """The TargetDown signal made from ``basis`` (``fp``: its fingerprint, if known)."""
    if basis[0] == "carried":
        return carried(cast(Alert, basis[1]))
    what, labels, name, channel, kind, reason, detail, firing, began = cast(
        tuple[tuple[Any, ...], Labels, str, str, str, str | None, str, bool, float | None],
        basis)
    where = f"{name} in {channel}"
    if what[0] == "failing":
        summary = f"{where} is failing: {what[1]} of {what[2]} failed probes before it is down"
    elif what[0] == "down":
        summary = f"{where} is down: {reason or 'failed'}"
    else:
        summary = (f"{where} is recovering: {what[1]} of {what[2]} successes before it "
                   f"resolves")
    annotations = _target_down_annotations(detail, kind, reason, summary)
    since = ev.inputs.now if began is None else began
    if fp is None:
        return [Signal(labels, annotations, firing, since)]
    return [Signal.known(fp, labels, annotations, firing=firing, active_since=since)]


def _channel_groups(ev: Evaluation) -> dict[str, tuple[Labels, list[TargetVerdict]]]:
    groups: dict[str, tuple[Labels, list[TargetVerdict]]] = {
        c.name: (c.labels, []) for c in ev.inputs.channels}
    # Verdicts come sorted by channel: a run per channel, not a look-up per target.
    for channel, run in itertools.groupby(ev.targets, key=_channel_of):
        groups.setdefault(channel, ((), []))[1].extend(run)
    return groups


def _worst_first(v: TargetVerdict) -> tuple[bool, float, int, str]:
    since = v.facts.failing_since
    return (since is None, since or 0.0, -v.facts.consecutive_failures, v.facts.name)


def channel_down(ev: Evaluation) -> list[Signal]:
    """ChannelDown: at least ``share`` of a channel's counted targets are down."""
    out: list[Signal] = []
    memo = ev.memo
    for channel, (labels, verdicts) in sorted(_channel_groups(ev).items()):
        own = alert_labels(labels, alertname="ChannelDown", channel=channel, severity="page")
        current = ev.current(own)
        hit = None if memo is None else memo.channels.get(channel)
        if hit is not None and hit[3] is not None and hit[0] == labels \
                and hit[2] is current and hit[1] == verdicts:
            out += hit[3]  # the same verdicts (a quiet tick): the same signal
            continue
        signals, timeless = _channel_down(ev, channel, own, current, verdicts)
        if memo is not None:
            memo.channels[channel] = (labels, verdicts, current, signals if timeless else None)
        out += signals
    return out


def _channel_down(ev: Evaluation, channel: str, own: Labels, current: Alert | None,
                  verdicts: list[TargetVerdict]) -> tuple[list[Signal], bool]:
    """The ChannelDown signal of one channel (if due), and whether it holds whatever
    the time."""
    counted = [v for v in verdicts if v.counted]
    down = [v for v in counted if v.state == "firing"]
    # As a ratio, not share * count: 3 of 10 must meet 30% (0.3 * 10 > 3 in floats).
    if not down or len(down) / len(counted) + 1e-9 < ev.rules.channel_down_share:
        return [], True
    reasons = Counter(v.facts.last_reason or "failed" for v in down)
    reason_text = ", ".join(f"{r} x{n}" for r, n in
                            sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    starts = [v.facts.failing_since for v in down if v.facts.failing_since is not None]
    began = min(starts) if starts else None
    return [Signal(
        labels=own,
        annotations=annotation_set(
            summary=f"Channel {channel} is down: {len(down)} of {len(counted)} "
                    f"targets down", down=f"{len(down)} of {len(counted)}",
            reasons=reason_text, targets=names_text(
                # Only the first few are named: no need to sort a thousand.
                [v.facts.name for v in heapq.nsmallest(NAMES_SHOWN, down,
                                                       key=_worst_first)],
                total=len(down))),
        active_since=ev.since(own, began))], current is not None or began is not None


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
             previous: Mapping[str, Alert], memo: RuleMemo | None = None) -> list[Signal]:
    """Every enabled rule's signals at ``inputs.now``.

    Deterministic whatever the order of the inputs: rules in
    :data:`~alerts.config.RULE_NAMES` order; within a rule, targets by channel and name,
    SLOs by name, consistency checks by channel; each label set once (the first wins).
    ``memo`` (kept by the caller from one evaluation to the next) changes nothing in the
    result, only its cost: see :class:`~alerts.evaluation.RuleMemo`.
    """
    targets = (sorted(inputs.targets, key=_by_channel_and_name) if memo is None
               else memo.sorted_targets(inputs.targets))
    if memo is not None:
        memo.start(rules, targets)
    verdicts = target_verdicts(replace(inputs, targets=targets), rules, previous, memo)
    ev = Evaluation(inputs, rules, previous, verdicts, () if memo is None else memo.tick,
                    memo)
    out: list[Signal] = []
    seen: set[str] = set()  # fingerprints: kept by each signal, so not hashed again
    for name, rule in RULES.items():
        if not rules.enabled(name):
            continue
        for signal in rule(ev):
            fp = signal.fingerprint
            if fp not in seen:
                seen.add(fp)
                out.append(signal)
    return out


_by_channel_and_name = operator.attrgetter("channel", "name")
_channel_of = operator.attrgetter("facts.channel")
