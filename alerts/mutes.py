"""Mute verdicts for one tick: silences and inhibition together.

A verdict reads only the label names that active silences and inhibition rules mention,
so verdicts are remembered per projection of a label set onto those names: 10,000
targets of one channel under one outage cost one verdict, not 10,000.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from alerts.config import InhibitRule
from alerts.inhibit import Inhibitor
from alerts.model import Alert, Labels, Silence
from alerts.silences import active_silences, is_silenced


def _names(silences: Iterable[Silence], rules: Iterable[InhibitRule]) -> frozenset[str]:
    names: set[str] = set()
    for s in silences:
        names.update(m.name for m in s.matchers)
    for r in rules:
        names.update(m.name for m in (*r.source, *r.target))
        names.update(r.equal)
    return frozenset(names)


class Mutes:
    """Whether each firing alert is muted now, computed on demand: only alerts that
    need a verdict (members of a group that flushes or opens, alerts that just started
    firing) are matched at all, so a quiet tick matches nothing."""

    __slots__ = ("_alerts", "_firing", "_inhibitor", "_memo", "_names", "_projections",
                 "_rules", "_silences", "_verdicts")

    def __init__(self, alerts: Mapping[str, Alert], firing: Sequence[str],
                 rules: Sequence[InhibitRule], silences: Sequence[Silence],
                 now: float) -> None:
        """``firing``: every firing alert of ``alerts``, muted or not (the sources)."""
        self._alerts = alerts
        self._firing = firing
        self._rules = rules
        self._silences = active_silences(silences, now)
        self._names = _names(self._silences, rules)
        self._inhibitor: Inhibitor | None = None
        self._memo: dict[str, bool] = {}  # by fingerprint
        self._projections: dict[str, Labels] = {}  # by fingerprint
        self._verdicts: dict[Labels, bool] = {}  # by projection

    def _project(self, fp: str) -> Labels:
        hit = self._projections.get(fp)
        if hit is None:
            names = self._names
            hit = self._projections[fp] = tuple(
                [p for p in self._alerts[fp].labels if p[0] in names])
        return hit

    def muted(self, fp: str) -> bool:
        """Whether the firing alert ``fp`` is silenced or inhibited now."""
        hit = self._memo.get(fp)
        if hit is None:
            projection = self._project(fp)
            hit = self._verdicts.get(projection)
            if hit is None:
                hit = self._verdicts[projection] = self._judge(dict(projection))
            self._memo[fp] = hit
        return hit

    def _judge(self, labels: Mapping[str, str]) -> bool:
        if self._silences and is_silenced(labels, self._silences):
            return True
        if not self._rules:
            return False
        if self._inhibitor is None:
            # Each distinct projection once stands for all its sources: a boolean
            # verdict never needs to know which alert inhibits.
            firsts: dict[Labels, str] = {}
            for f in self._firing:
                firsts.setdefault(self._project(f), f)
            self._inhibitor = Inhibitor(self._rules, ((f, dict(p)) for p, f in
                                                      firsts.items()))
        return self._inhibitor.inhibited(labels)
