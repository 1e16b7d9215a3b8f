"""Mute verdicts for one tick: silences and inhibition together.

A verdict reads only the label names that active silences and inhibition rules mention,
so verdicts are remembered per projection of a label set onto those names: 10,000
targets of one channel under one outage cost one verdict, not 10,000.  The same holds
for the reasons (:func:`mute_reasons`): which silences match, and which sources inhibit,
are decided once per projection.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Literal

from alerts.config import InhibitRule
from alerts.inhibit import Inhibitor
from alerts.model import Alert, Labels, Silence
from alerts.silences import active_silences, is_silenced, silenced_by


def _names(silences: Iterable[Silence], rules: Iterable[InhibitRule]) -> frozenset[str]:
    names: set[str] = set()
    for s in silences:
        names.update(m.name for m in s.matchers)
    for r in rules:
        names.update(m.name for m in (*r.source, *r.target))
        names.update(r.equal)
    return frozenset(names)


class Projections:
    """Each alert's labels projected onto the label names mutes read, kept across ticks
    by their owner (see :class:`alerts.engine.StepMemo`): an alert whose label set is
    the very object it was projected from is not projected again.  Other names (the
    silences or inhibition rules changed) start over."""

    __slots__ = ("_by_fp", "_distinct", "_names")

    def __init__(self) -> None:
        self._names: frozenset[str] | None = None
        self._by_fp: dict[str, tuple[Labels, Labels]] = {}
        self._distinct: tuple[list[str], list[tuple[str, Labels]]] | None = None

    def use(self, names: frozenset[str], alerts: int) -> None:
        """Project onto ``names`` from now on; ``alerts`` bounds what is kept."""
        if names != self._names:
            self._names = names
            self._by_fp = {}
            self._distinct = None
        elif len(self._by_fp) > 2 * alerts + 100:
            self._by_fp = {}  # mostly alerts that are gone: start over rather than grow

    def distinct(self, fps: list[str],
                 alerts: Mapping[str, Alert]) -> list[tuple[str, Labels]]:
        """One ``(fingerprint, projection)`` per distinct projection among ``fps``, the
        first alert of each; the same answer again while ``fps`` are the same."""
        last = self._distinct
        # A fingerprint names one label set, so the same fingerprints project alike;
        # comparing two lists of the very same strings costs next to nothing.
        if last is not None and last[0] == fps:
            return last[1]
        firsts: dict[Labels, str] = {}
        for fp in fps:
            firsts.setdefault(self.of(fp, alerts[fp].labels), fp)
        out = [(fp, p) for p, fp in firsts.items()]
        self._distinct = (fps, out)
        return out

    def of(self, fp: str, labels: Labels) -> Labels:
        hit = self._by_fp.get(fp)
        if hit is not None and hit[0] is labels:
            return hit[1]
        assert self._names is not None, "use() first"
        projection = _projection(labels, self._names)
        self._by_fp[fp] = (labels, projection)
        return projection


MuteKind = Literal["silenced", "inhibited"]


class Mutes:
    """Whether each firing alert is muted now, computed on demand: only alerts that
    need a verdict (members of a group that flushes or opens, alerts that just started
    firing) are matched at all, so a quiet tick matches nothing."""

    __slots__ = ("_alerts", "_firing", "_inhibitor", "_memo", "_names", "_projections",
                 "_rules", "_silences", "_verdicts")

    def __init__(self, alerts: Mapping[str, Alert], firing: Sequence[str],
                 rules: Sequence[InhibitRule], silences: Sequence[Silence],
                 now: float, projections: Projections | None = None) -> None:
        """``firing``: every firing alert of ``alerts``, muted or not (the sources);
        ``projections``: kept from earlier ticks, if the caller keeps them."""
        self._alerts = alerts
        self._firing = firing
        self._rules = rules
        self._silences = active_silences(silences, now)
        self._names = _names(self._silences, rules)
        self._inhibitor: Inhibitor | None = None
        self._memo: dict[str, MuteKind | None] = {}  # by fingerprint
        self._projections = Projections() if projections is None else projections
        self._projections.use(self._names, len(alerts))
        self._verdicts: dict[Labels, MuteKind | None] = {}  # by projection

    def _project(self, fp: str) -> Labels:
        return self._projections.of(fp, self._alerts[fp].labels)

    def muted(self, fp: str) -> bool:
        """Whether the firing alert ``fp`` is silenced or inhibited now."""
        return self.kind(fp) is not None

    def kind(self, fp: str) -> MuteKind | None:
        """Why the firing alert ``fp`` is muted now: ``silenced`` (whether or not it is
        also inhibited), ``inhibited``, or None when it is not."""
        try:
            return self._memo[fp]
        except KeyError:
            pass
        projection = self._project(fp)
        try:
            hit = self._verdicts[projection]
        except KeyError:
            hit = self._verdicts[projection] = self._judge(dict(projection))
        self._memo[fp] = hit
        return hit

    def any_unmuted(self, fps: Sequence[str], shared: Collection[str]) -> bool:
        """Whether some of the firing alerts ``fps`` is not muted, given that they all
        have the same values of the labels ``shared`` (the members of one group)."""
        if fps and self._names.issubset(shared):
            # Verdicts read only labels the members share: one verdict is everyone's,
            # so a group of 10,000 inhibited targets costs one, not 10,000.
            return not self.muted(fps[0])
        return any(not self.muted(fp) for fp in fps)

    def _judge(self, labels: Mapping[str, str]) -> MuteKind | None:
        if self._silences and is_silenced(labels, self._silences):
            return "silenced"
        if not self._rules:
            return None
        if self._inhibitor is None:
            # Each distinct projection once stands for all its sources: a boolean
            # verdict never needs to know which alert inhibits.
            sources = self._projections.distinct(list(self._firing), self._alerts)
            self._inhibitor = Inhibitor(self._rules, ((f, dict(p)) for f, p in sources))
        return "inhibited" if self._inhibitor.inhibited(labels) else None


def _projection(labels: Labels, names: frozenset[str]) -> Labels:
    return tuple([p for p in labels if p[0] in names])  # a list first: faster here


def mute_reasons(alerts: Mapping[str, Alert], rules: Sequence[InhibitRule],
                 silences: Sequence[Silence], now: float) -> dict[str, tuple[str, ...]]:
    """Why each muted alert of ``alerts`` is muted, in fingerprint order: the ids of the
    active silences muting it, then ``inhibited:<source fingerprint>`` for each firing
    alert inhibiting it (sorted).  Alerts that are not muted are left out."""
    active = active_silences(silences, now)
    names = _names(active, rules)
    members: dict[Labels, list[str]] = {}  # projection -> fingerprints, every alert
    sources: dict[Labels, list[str]] = {}  # projection -> fingerprints, firing alerts
    for fp, a in alerts.items():
        projection = _projection(a.labels, names)
        members.setdefault(projection, []).append(fp)
        if a.status == "firing":
            sources.setdefault(projection, []).append(fp)
    # A source is named by its projection's position: every alert with that projection
    # inhibits (or not) alike, so the inhibitor sees each projection once.
    keys = list(sources)
    inhibitor = Inhibitor(rules, ((str(i), dict(p)) for i, p in enumerate(keys)))
    out: dict[str, tuple[str, ...]] = {}
    for projection, fps in members.items():
        labels = dict(projection)
        by = inhibitor.inhibited_by(labels)
        inhibiting = sorted(fp for i in by for fp in sources[keys[int(i)]]) if by else []
        why = (*silenced_by(labels, active), *(f"inhibited:{src}" for src in inhibiting))
        if why:
            for fp in fps:
                out[fp] = why
    return dict(sorted(out.items()))
