"""What every rule reads in one evaluation, the target verdicts two rules share, and
the memo that lets an evaluation reuse what the previous one decided for targets whose
facts did not change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from alerts.config import RulesConfig
from alerts.facts import RuleInputs, TargetFacts
from alerts.model import Alert, Labels, Signal, fingerprint

DownState = Literal["firing", "pending"] | None


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


@dataclass(slots=True)
class Decided:
    """What the target rules decided for one target, and what from.

    ``labels`` (the TargetDown label set, with its ``fingerprint``) were made from the
    facts' labels ``source``; ``verdict`` from ``facts`` and ``current`` (the alert with
    ``labels``, if pending or firing); ``signals`` are the TargetDown signals last
    made, from ``basis`` (what they were built from), and still those of the verdict
    ``signals_of`` (None when they depended on the time).
    """

    channel: str
    source: Labels
    labels: Labels
    fingerprint: str
    facts: TargetFacts | None = None
    current: Alert | None = None
    verdict: TargetVerdict | None = None
    signals: list[Signal] | None = None
    basis: tuple[object, ...] = ()
    signals_of: TargetVerdict | None = None


class RuleMemo:
    """What the target rules decided in the last evaluation, per target, owned by the
    caller and passed back to :func:`alerts.rules.evaluate`.

    An entry is reused only while the target's facts and its current alert are the very
    objects it was decided from (:class:`monitor.runtime.alert_facts.FactsCache` keeps
    unchanged facts identical, the engine keeps unchanged alerts identical) and the
    thresholds are the same; anything else decides afresh.  So an evaluation with a memo
    returns what one without returns, and a storm of 10,000 down targets whose probes
    did not report since costs a few look-ups per target.
    """

    __slots__ = ("_order", "_rules", "channels", "targets", "tick")

    def __init__(self) -> None:
        self._rules: RulesConfig | None = None
        # By target name; an entry is the target's only while its channel is the same.
        self.targets: dict[str, Decided] = {}
        # This evaluation's entries in the order of its targets (see Evaluation.decided).
        self.tick: list[Decided] = []
        # By channel: the ChannelDown signals last made and what from (the channel's
        # labels and verdicts, its current ChannelDown alert); None when they
        # depended on the time.
        self.channels: dict[str, tuple[Labels, list[TargetVerdict], Alert | None,
                                       list[Signal] | None]] = {}
        # The (channel, name) of the last evaluation's targets in input order, and the
        # permutation that sorts them: targets come in config order, tick after tick.
        self._order: tuple[list[tuple[str, str]], list[int]] = ([], [])

    def sorted_targets(self, targets: Sequence[TargetFacts]) -> list[TargetFacts]:
        """``targets`` by channel and name, as ``sorted`` would order them (names are
        unique), re-sorting only when the input order changed."""
        keys, perm = self._order
        if len(keys) != len(targets) or any(
                k[1] != t.name or k[0] != t.channel
                for k, t in zip(keys, targets, strict=True)):
            keys = [(t.channel, t.name) for t in targets]
            perm = sorted(range(len(keys)), key=keys.__getitem__)
            self._order = (keys, perm)
        return [targets[i] for i in perm]

    def start(self, rules: RulesConfig, targets: Sequence[TargetFacts]) -> None:
        """A new evaluation of ``targets`` with ``rules``: other thresholds forget every
        entry, and targets no longer there (a reload removed them) are forgotten."""
        self.tick = []
        if rules != self._rules:
            self._rules = rules
            self.targets = {}
            self.channels = {}
        elif len(self.targets) > len(targets):
            keep = {t.name for t in targets}
            self.targets = {k: v for k, v in self.targets.items() if k in keep}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What every rule reads: the inputs, thresholds, current alerts, and the
    target verdicts both target_down and channel_down use (with a :class:`RuleMemo`,
    ``decided`` holds its entry for each of ``targets``, in the same order)."""

    inputs: RuleInputs
    rules: RulesConfig
    previous: Mapping[str, Alert]
    targets: Sequence[TargetVerdict]
    decided: Sequence[Decided] = ()
    memo: RuleMemo | None = None

    def current(self, labels: Labels) -> Alert | None:
        """The pending or firing alert with ``labels``, if any."""
        alert = self.previous.get(fingerprint(labels))
        return alert if alert is not None and alert.status != "resolved" else None

    def since(self, labels: Labels, began: float | None = None) -> float:
        """When the alert with ``labels`` became active: the current (pending or firing)
        alert's start, else ``began`` when the facts know it, else now."""
        alert = self.current(labels)
        if alert is not None:
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
