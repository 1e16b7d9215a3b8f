"""The status page's uptime bars: hour buckets regrouped into hourly and daily bins. Pure.

A bin counts the probes the SLI counts (``good`` of ``total``) and, apart, the probes
nobody counts (``excluded``: a maintenance window or outside service hours).  Its
``state`` picks the bar's colour, and an excluded hour is never red:

- ``up``: every counted probe good;  ``partial``: some bad;  ``down``: all bad;
- ``excluded``: nothing counted but excluded probes were seen;
- ``none``: no probe at all (no data is not up).

Days are UTC days, like the store's hour buckets; the newest bin is the one containing
``now`` and is still filling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from monitor.store.buckets import HOUR, BucketTotals

DAY: Final = 86400
HOURLY_BINS: Final = 48
DAILY_BINS: Final = 90
HISTORY_SECONDS: Final = DAILY_BINS * DAY  # how far back the daily bars reach

BinState = Literal["up", "partial", "down", "excluded", "none"]


@dataclass(frozen=True, slots=True)
class UptimeBin:
    """One bar segment: counted ``good`` of ``total``, ``excluded`` uncounted probes."""

    start: float
    good: int
    total: int
    excluded: int
    state: BinState


@dataclass(frozen=True, slots=True)
class Uptime:
    """The hourly (48 h) and daily (90 d) bars of one channel or target, oldest first."""

    hourly: tuple[UptimeBin, ...]
    daily: tuple[UptimeBin, ...]


def bin_state(good: int, total: int, excluded: int) -> BinState:
    """The colour of a bin (see the module docstring)."""
    if total == 0:
        return "excluded" if excluded else "none"
    if good == total:
        return "up"
    return "down" if good == 0 else "partial"


def bins(buckets: Iterable[BucketTotals], first: int, size: int, count: int
         ) -> tuple[UptimeBin, ...]:
    """``count`` bins of ``size`` seconds from ``first``; buckets outside are ignored."""
    good = [0] * count
    total = [0] * count
    excluded = [0] * count
    for b in buckets:
        i = (b.start - first) // size
        if 0 <= i < count:
            good[i] += b.good
            total[i] += b.total
            excluded[i] += b.excluded
    return tuple(UptimeBin(float(first + i * size), good[i], total[i], excluded[i],
                           bin_state(good[i], total[i], excluded[i])) for i in range(count))


def uptime(hour_buckets: Iterable[BucketTotals], now: float) -> Uptime:
    """The bars ending with the hour (and the UTC day) containing ``now``."""
    series = list(hour_buckets)
    hour = int(now) // HOUR * HOUR
    day = int(now) // DAY * DAY
    return Uptime(hourly=bins(series, hour - (HOURLY_BINS - 1) * HOUR, HOUR, HOURLY_BINS),
                  daily=bins(series, day - (DAILY_BINS - 1) * DAY, DAY, DAILY_BINS))


def history_start(now: float) -> float:
    """The first instant the bars of :func:`uptime` at ``now`` read."""
    return float(int(now) // DAY * DAY - (DAILY_BINS - 1) * DAY)
