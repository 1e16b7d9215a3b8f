"""What every rule reads in one evaluation, and the target verdicts two rules share."""

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
