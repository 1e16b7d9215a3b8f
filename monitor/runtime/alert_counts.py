"""The ``omniwatch_alerts`` counts: alerts by name, severity and state, recounted only
when something they follow from changed.

Counting reads every alert and its mute verdict (10,000 alerts in a storm, every few
seconds); the counts follow only from the alerts' labels and states, the inhibition
rules and the silences in force, so a tick that changed none of them keeps the last.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from alerts.config import AlertsConfig
from alerts.engine import muted_by
from alerts.model import Silence
from alerts.silences import active_silences
from alerts.store import EngineState, StateChange

Counts = Counter[tuple[str, str, str]]  # (alertname, severity, state) -> alerts


def count_alerts(state: EngineState, config: AlertsConfig, silences: Sequence[Silence],
                 now: float) -> Counts:
    """Pending and firing alerts of ``state`` by name, severity and state: ``pending``,
    ``firing`` (heard), ``silenced`` or ``inhibited`` (a silenced one counts as silenced
    whether or not it is also inhibited)."""
    muted = muted_by(state, config, silences, now)
    out: Counts = Counter()
    for fp, a in state.alerts.items():
        if a.status == "resolved":
            continue
        kind: str = a.status
        if a.status == "firing" and fp in muted:
            kind = "silenced" if any(not r.startswith("inhibited") for r in muted[fp]) \
                else "inhibited"
        out[(a.label("alertname"), a.label("severity"), kind)] += 1
    return out


def changes_counts(old: EngineState, change: StateChange) -> bool:
    """Whether ``change`` (applied to ``old``) may change the counts: an alert came,
    went or changed state; new annotations alone do not."""
    if change.removed_alerts:
        return True
    for a in change.alerts:
        before = old.alerts.get(a.fingerprint)
        if before is None or before.status != a.status:
            return True
    return False


class AlertCounts:
    """The counts of the latest state, kept between evaluations."""

    __slots__ = ("_basis", "counts")

    def __init__(self) -> None:
        self.counts: Counts = Counter()
        self._basis: tuple[AlertsConfig, tuple[Silence, ...]] | None = None

    def forget(self) -> None:
        """The state was replaced (loaded from the store): count afresh next time."""
        self._basis = None

    def update(self, old: EngineState, new: EngineState, change: StateChange,
               config: AlertsConfig, silences: Sequence[Silence], now: float) -> Counts:
        """The counts of ``new``, the step from ``old`` having made ``change``."""
        basis = (config, active_silences(silences, now))
        if basis != self._basis or changes_counts(old, change):
            self.counts = count_alerts(new, config, silences, now)
            self._basis = basis
        return self.counts
