"""Which silences mute an alert now: every matcher of a silence that has begun and not
yet ended must match (``= != =~ !~``, regexes fully anchored, see
:class:`~alerts.config.Matcher`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from alerts.model import Silence


def active_silences(silences: Iterable[Silence], now: float) -> tuple[Silence, ...]:
    """The silences in force at ``now`` (``starts_at <= now < ends_at``), in the given
    order; filter once per tick, then match each alert against these only."""
    return tuple(s for s in silences if s.active(now))


def silenced_by(labels: Mapping[str, str], active: Sequence[Silence]) -> tuple[str, ...]:
    """Ids of the ``active`` silences whose matchers all match ``labels``, in order
    (the same verdict as :meth:`Silence.mutes`, without re-checking the time)."""
    return tuple(s.id for s in active if all(m.matches(labels) for m in s.matchers))


def is_silenced(labels: Mapping[str, str], active: Sequence[Silence]) -> bool:
    """Whether any of the ``active`` silences mutes ``labels``."""
    return any(all(m.matches(labels) for m in s.matchers) for s in active)
