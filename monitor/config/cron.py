"""Five-field cron expressions, for recurring maintenance windows.  Pure.

The matcher is deliberately tiny — standard five fields (minute, hour, day of month,
month, day of week), with ``*``, lists, ranges, ``/step`` and English names (``sun``,
``jan``); Sunday is 0 or 7; when both day fields are restricted either may match, as in
Vixie cron.  No seconds, no ``L``/``W``/``#``, no ``@daily``: a maintenance schedule that
needs them is better written as several windows.  A config value type like a duration:
the loader checks expressions with it, the exclusions match probe times with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

_FIELDS: Final = (  # name, lowest, highest
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_NAMES: Final[Mapping[int, Mapping[str, int]]] = {
    3: {
        m: i + 1
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        )
    },
    4: {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
MINUTE: Final = timedelta(minutes=1)


def _parse_value(text: str, index: int) -> int:
    names = _NAMES.get(index, {})
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a valid {_FIELDS[index][0]}")
    return int(text)


def _parse_field(text: str, index: int) -> frozenset[int]:
    name, low, high = _FIELDS[index]
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else 0
        if step_text and not step:
            raise ValueError(f"{part!r}: step must be a positive number")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = _parse_value(a, index), _parse_value(b, index)
        else:
            first = last = _parse_value(base, index)
            if step:
                last = high
        if not low <= first <= last <= high:
            raise ValueError(f"{part!r} is out of range for {name} ({low}-{high})")
        values.update(range(first, last + 1, step or 1))
    if index == 4 and 7 in values:  # Sunday is 0 or 7
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed five-field cron expression, matched against local wall-clock minutes."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday, as cron counts
    day_restricted: bool
    weekday_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse ``expression``; raise ``ValueError`` naming the bad field."""
        parts = expression.split()
        if len(parts) != 5:
            raise ValueError(f"{expression!r}: a cron expression has 5 fields, got {len(parts)}")
        sets = [_parse_field(p, i) for i, p in enumerate(parts)]
        return cls(
            expression=expression,
            minutes=sets[0],
            hours=sets[1],
            days=sets[2],
            months=sets[3],
            weekdays=sets[4],
            day_restricted=parts[2] != "*",
            weekday_restricted=parts[4] != "*",
        )

    def day_matches(self, local: datetime) -> bool:
        """Whether the calendar day of ``local`` is one the schedule runs on."""
        if local.month not in self.months:
            return False
        dom = local.day in self.days
        dow = (local.weekday() + 1) % 7 in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return dom or dow
        return dom and dow

    def matches(self, local: datetime) -> bool:
        """Whether the schedule fires at the minute of the naive local time ``local``."""
        return local.minute in self.minutes and local.hour in self.hours and self.day_matches(local)

    def last_fire_at_or_before(self, local: datetime, not_before: datetime) -> datetime | None:
        """The latest firing minute in ``[not_before, local]`` (naive wall times), or None.

        Walks backwards skipping whole days and hours that cannot match, so a lookback of
        a week costs at most a few hundred steps.
        """
        m = local.replace(second=0, microsecond=0)
        while m >= not_before:
            if not self.day_matches(m):
                m = m.replace(hour=0, minute=0) - MINUTE
            elif m.hour not in self.hours:
                m = m.replace(minute=0) - MINUTE
            elif m.minute not in self.minutes:
                m -= MINUTE
            else:
                return m
        return None
