"""Inhibition: while a source alert fires, target alerts with the same ``equal`` labels
are muted (a channel outage mutes the per-target alerts under it).

Semantics are Alertmanager's (``inhibit/inhibit.go``): only FIRING sources inhibit, a
silenced source still does, and an alert that matches both sides of a rule is muted only
by sources that do not also match the target side -- so it never mutes itself, and two
alerts of the same kind never mute each other into silence.  Absent labels compare as
the empty string (absent equals absent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from alerts.config import InhibitRule, Matcher

EqualValues = tuple[str, ...]


def _all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass(slots=True)
class _RuleIndex:
    """The firing sources of one rule, by their values of the rule's ``equal`` labels."""

    rule: InhibitRule
    # equal values -> [(source fingerprint, the source also matches the target side)]
    sources: dict[EqualValues, list[tuple[str, bool]]] = field(default_factory=dict)
    # equal values under which some source does NOT match the target side
    one_sided: set[EqualValues] = field(default_factory=set)

    def key(self, labels: Mapping[str, str]) -> EqualValues:
        return tuple(labels.get(n, "") for n in self.rule.equal)


class Inhibitor:
    """The inhibition verdicts of one tick, built from that tick's firing alerts.

    Sources are indexed by their ``equal`` label values, so a verdict costs one lookup
    per rule instead of a scan of every source.
    """

    __slots__ = ("_rules",)

    def __init__(self, rules: Iterable[InhibitRule],
                 firing: Iterable[tuple[str, Mapping[str, str]]]) -> None:
        """``firing``: ``(fingerprint, labels)`` of every alert firing now, muted or not."""
        self._rules = [_RuleIndex(r) for r in rules]
        if not self._rules:
            return
        for fp, labels in firing:
            for ix in self._rules:
                if _all(ix.rule.source, labels):
                    two_sided = _all(ix.rule.target, labels)
                    key = ix.key(labels)
                    ix.sources.setdefault(key, []).append((fp, two_sided))
                    if not two_sided:
                        ix.one_sided.add(key)

    def inhibited(self, labels: Mapping[str, str]) -> bool:
        """Whether some firing source inhibits an alert with ``labels``."""
        for ix in self._rules:
            if not ix.sources or not _all(ix.rule.target, labels):
                continue
            key = ix.key(labels)
            if _all(ix.rule.source, labels):
                if key in ix.one_sided:
                    return True
            elif key in ix.sources:
                return True
        return False

    def inhibited_by(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """Fingerprints of every firing source inhibiting ``labels``, sorted, each once."""
        found: set[str] = set()
        for ix in self._rules:
            if not ix.sources or not _all(ix.rule.target, labels):
                continue
            two_sided = _all(ix.rule.source, labels)
            found.update(fp for fp, both in ix.sources.get(ix.key(labels), ())
                         if not (two_sided and both))
        return tuple(sorted(found))
