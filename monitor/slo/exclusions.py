"""Which probe timestamps are not counted: maintenance windows and service hours. Pure.

A maintenance window is one-off (``start``/``end``) or recurring (a five-field cron
expression for when it *starts*, plus a duration, in a time zone).  Service hours say when
a channel is open (:class:`monitor.config.model.ServiceHours`); a probe outside them is not
counted.  :class:`Exclusions` answers, for one probe, *why* it is excluded (or ``None``),
so the store can count excluded probes and the report can say how much was excluded.
The cron expressions are parsed by :mod:`monitor.config.cron`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from monitor.config.cron import MINUTE, CronSchedule
from monitor.config.model import ServiceHours


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """Probes in this window are not counted.

    One-off: ``start`` and ``end`` (Unix seconds, end exclusive).  Recurring: ``cron``
    says when each occurrence starts (wall clock in ``tz``) and it lasts
    ``duration_seconds``.  ``channels``/``targets`` scope it; both empty means everything.
    """

    name: str
    start: float | None = None
    end: float | None = None
    cron: CronSchedule | None = None
    duration_seconds: float = 0.0
    tz: str = "UTC"
    channels: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        one_off = self.start is not None and self.end is not None
        if one_off == (self.cron is not None):
            raise ValueError(f"maintenance {self.name!r}: give either start/end or cron")
        if self.cron is not None and self.duration_seconds <= 0:
            raise ValueError(f"maintenance {self.name!r}: a recurring window needs a duration")
        if one_off and self.end is not None and self.start is not None and self.end <= self.start:
            raise ValueError(f"maintenance {self.name!r}: end must be after start")

    def _span(self) -> tuple[float, float]:
        if self.start is None or self.end is None:
            raise TypeError(f"maintenance {self.name!r} is recurring, not one-off")
        return self.start, self.end

    def applies_to(self, channel: str, target: str) -> bool:
        """Whether the window covers probes of ``target`` in ``channel``."""
        if not self.channels and not self.targets:
            return True
        return channel in self.channels or target in self.targets

    def active_at(self, t: float) -> bool:
        """Whether the Unix time ``t`` falls inside an occurrence of this window."""
        if self.cron is None:
            start, end = self._span()
            return start <= t < end
        zone = ZoneInfo(self.tz)
        local = datetime.fromtimestamp(t, zone).replace(tzinfo=None)
        earliest = local - timedelta(seconds=self.duration_seconds)
        fire = self.cron.last_fire_at_or_before(local, earliest)
        if fire is None:
            return False
        # Measure the duration in real time, so a DST change inside a window is honoured.
        begin = fire.replace(tzinfo=zone).timestamp()
        return begin <= t < begin + self.duration_seconds

    def occurrences(self, start: float, end: float) -> Iterator[tuple[float, float]]:
        """Every occurrence overlapping ``[start, end)``, clipped to it, in time order."""
        if self.cron is None:
            first, last = self._span()
            if first < end and last > start:
                yield max(first, start), min(last, end)
            return
        zone = ZoneInfo(self.tz)
        fires: list[float] = []
        local = datetime.fromtimestamp(end, zone).replace(tzinfo=None)
        floor = datetime.fromtimestamp(start - self.duration_seconds, zone).replace(tzinfo=None)
        while True:
            fire = self.cron.last_fire_at_or_before(local, floor)
            if fire is None:
                break
            fires.append(fire.replace(tzinfo=zone).timestamp())
            local = fire - MINUTE
        for begin in sorted(set(fires)):
            finish = begin + self.duration_seconds
            if begin < end and finish > start:
                yield max(begin, start), min(finish, end)


def _minutes_of(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    value = int(hours) * 60 + int(minutes)
    if not 0 <= value <= 24 * 60:
        raise ValueError(f"{hhmm!r} is not a time of day (HH:MM, 00:00-24:00)")
    return value


def in_service_hours(t: float, hours: ServiceHours) -> bool:
    """Whether Unix time ``t`` lies inside ``hours``.

    ``end`` is exclusive and may be ``24:00``.  When ``end`` is not after ``start`` the
    span runs overnight and belongs to the day it starts on (Fri 22:00-06:00 covers
    Saturday 03:00).
    """
    local = datetime.fromtimestamp(t, ZoneInfo(hours.tz))
    now = local.hour * 60 + local.minute
    start, end = _minutes_of(hours.start), _minutes_of(hours.end)
    if start < end:
        return local.weekday() in hours.days and start <= now < end
    if now >= start:
        return local.weekday() in hours.days
    return now < end and (local.weekday() - 1) % 7 in hours.days


EXCLUDED_SERVICE_HOURS: Final = "service_hours"


@dataclass(frozen=True, slots=True)
class Exclusions:
    """Every exclusion rule of a configuration: service hours per channel, maintenance."""

    service_hours: Mapping[str, ServiceHours] = field(default_factory=dict)
    maintenance: Sequence[MaintenanceWindow] = ()

    def reason(self, channel: str, target: str, t: float) -> str | None:
        """Why a probe of ``target`` at ``t`` is not counted, or None when it is.

        ``"maintenance:<name>"`` for a maintenance window (checked first, since a window
        is the more specific statement), ``"service_hours"`` outside the channel's hours.
        """
        for window in self.maintenance:
            if window.applies_to(channel, target) and window.active_at(t):
                return f"maintenance:{window.name}"
        hours = self.service_hours.get(channel)
        if hours is not None and not in_service_hours(t, hours):
            return EXCLUDED_SERVICE_HOURS
        return None

    def is_excluded(self, channel: str, target: str, t: float) -> bool:
        """Whether a probe of ``target`` at ``t`` is left out of every SLI."""
        return self.reason(channel, target, t) is not None

    def maintenance_in(
        self, start: float, end: float, channel: str, targets: Iterable[str] = ()
    ) -> list[tuple[str, float, float]]:
        """``(name, begin, end)`` of maintenance touching ``channel`` or ``targets`` in a span.

        For the monthly report's "excluded maintenance" list; sorted by begin.
        """
        names = set(targets)
        out: list[tuple[str, float, float]] = []
        for window in self.maintenance:
            scoped = window.applies_to(channel, "") or bool(names & window.targets)
            if scoped:
                out.extend((window.name, b, e) for b, e in window.occurrences(start, end))
        return sorted(out, key=lambda item: (item[1], item[0]))

    def excluded_spans(
        self, channel: str, target: str, start: float, end: float
    ) -> list[tuple[float, float]]:
        """Every span of ``[start, end)`` in which probes of ``target`` are not counted.

        Maintenance occurrences plus closed hours, possibly overlapping, unsorted.
        """
        spans = [
            span
            for window in self.maintenance
            if window.applies_to(channel, target)
            for span in window.occurrences(start, end)
        ]
        hours = self.service_hours.get(channel)
        if hours is not None:
            spans.extend(outside_service_hours(hours, start, end))
        return spans


def outside_service_hours(
    hours: ServiceHours, start: float, end: float
) -> list[tuple[float, float]]:
    """The spans of ``[start, end)`` outside ``hours``, in time order.

    Built from the open spans of each local day (overnight spans included), so the
    report can take closed hours out of incident downtime.
    """
    zone = ZoneInfo(hours.tz)
    open_from, open_to = _minutes_of(hours.start), _minutes_of(hours.end)
    day = datetime.fromtimestamp(start, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, zone).date()
    spans: list[tuple[float, float]] = []
    while day <= last:
        if day.weekday() in hours.days:
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            length = open_to - open_from if open_to > open_from else open_to + 1440 - open_from
            # Wall-clock arithmetic, then to UTC: opening hours follow the local clock.
            begin = (midnight.replace(tzinfo=None) + timedelta(minutes=open_from)).replace(
                tzinfo=zone
            )
            finish = (begin.replace(tzinfo=None) + timedelta(minutes=length)).replace(tzinfo=zone)
            spans.append((begin.timestamp(), finish.timestamp()))
        day += timedelta(days=1)
    gaps, cursor = [], start
    for begin_ts, finish_ts in spans:
        if begin_ts > cursor:
            gaps.append((cursor, min(begin_ts, end)))
        cursor = max(cursor, finish_ts)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return [(a, b) for a, b in gaps if b > a]
