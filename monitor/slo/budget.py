"""SLO math: SLIs, error budgets, burn rates and burn-rate alert status. Pure; no I/O.

Everything here works on plain counts of probe events.  A probe that was *counted* (not
excluded by a maintenance window or service hours) is either good (it succeeded; a
*degraded* success is still good for availability) or bad.  For a latency objective a
probe is good only when it succeeded *and* was not degraded: a failed probe did not
answer under the threshold either.

**No data is not 100%.**  A window without a single counted probe has an *unknown* SLI,
burn rate and remaining budget, reported as ``None``; it never fires an alert and never
counts as meeting the objective.  Callers decide how to show it ("n/a", NaN).

**Windows are bucket-aligned.**  A bucket belongs to the window ``[now - w, now)`` when its
*start* lies inside it, so a window over hour buckets covers between ``w - 1h`` and ``w``
of history.  The store picks minute buckets for windows up to a day, hour buckets beyond.

Definitions (as in the SRE Workbook):

- ``sli = good / total``
- ``error budget = 1 - objective`` (a ratio); as time, ``(1 - objective) * period`` of full
  outage — 43.2 minutes for 99.9% over 30 days;
- ``burn rate = (bad / total) / (1 - objective)``: 1.0 spends the budget exactly over the
  period;
- ``budget remaining = 1 - burn rate over the whole period`` (negative when overspent);
- ``time to exhaustion = remaining * period / current burn rate``, where the current burn
  rate is the one over ``SloSpec.current_window`` (1h by default).  It assumes the current
  rate persists and ignores old bad events leaving the rolling window, so it errs early.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from monitor.slo.windows import (
    BURN_RATE_WINDOWS,
    DEFAULT_ALERT_WINDOWS,
    SLI_WINDOWS,
    AlertWindow,
    AlertWindows,
    window_seconds,
)

MONTH: Final = "month"
AlertState = Literal["ok", "ticket", "page"]
ALERT_STATE_VALUES: Final[Mapping[AlertState, int]] = {"ok": 0, "ticket": 1, "page": 2}


@dataclass(frozen=True, slots=True)
class Counts:
    """Probe events in some span: ``good`` and ``degraded`` are subsets of ``total``."""

    good: int = 0
    total: int = 0
    degraded: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.good + other.good, self.total + other.total, self.degraded + other.degraded
        )

    @property
    def bad(self) -> int:
        """Counted probes that failed."""
        return self.total - self.good

    @property
    def fast(self) -> int:
        """Counted probes that succeeded under the latency threshold."""
        return self.good - self.degraded


@dataclass(frozen=True, slots=True)
class Bucket:
    """The counts of one time bucket starting at ``start`` (Unix seconds)."""

    start: float
    counts: Counts


@dataclass(frozen=True, slots=True)
class SloSpec:
    """One objective over one set of probes (a channel, or a single target).

    ``period`` is the rolling SLO window (a label such as ``30d``); the burn-rate factors
    of ``alert_windows`` assume a period of the same length.  ``timezone`` fixes where the
    calendar month starts.  ``latency_objective`` (e.g. 0.99) adds a second objective on
    the share of fast successes.
    """

    name: str
    objective: float = 0.999
    period: str = "30d"
    latency_objective: float | None = None
    alert_windows: AlertWindows = DEFAULT_ALERT_WINDOWS
    current_window: str = "1h"
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        for value in (self.objective, self.latency_objective):
            if value is not None and not 0.0 < value < 1.0:
                raise ValueError(f"objective {value!r} must lie strictly between 0 and 1")
        window_seconds(self.period)
        window_seconds(self.current_window)

    @property
    def period_seconds(self) -> float:
        return window_seconds(self.period)

    @property
    def windows(self) -> tuple[str, ...]:
        """Every rolling window label :func:`evaluate` reads, shortest first."""
        labels = {
            *SLI_WINDOWS,
            *BURN_RATE_WINDOWS,
            *self.alert_windows.labels,
            self.period,
            self.current_window,
        }
        return tuple(sorted(labels, key=window_seconds))


@dataclass(frozen=True, slots=True)
class ObjectiveStatus:
    """Where one objective stands at ``now``.  ``None`` always means *no data*.

    ``sli`` is keyed by window label (``1h`` … ``30d``, the period, and ``month``);
    ``burn_rates`` by :data:`BURN_RATE_WINDOWS`.  ``firing`` lists the table rows whose
    long and short windows both burn faster than their factor; ``alert`` is the most
    severe of them.  ``budget_remaining_*`` go negative when the budget is overspent;
    ``exhaustion_seconds`` is 0 when it already is, ``None`` when nothing is burning.
    """

    objective: float
    sli: Mapping[str, float | None]
    burn_rates: Mapping[str, float | None]
    error_budget_ratio: float
    error_budget_minutes: float
    budget_remaining_ratio: float | None
    budget_remaining_minutes: float | None
    current_burn_rate: float | None
    exhaustion_seconds: float | None
    alert: AlertState
    firing: tuple[AlertWindow, ...] = ()

    @property
    def has_data(self) -> bool:
        """Whether any window counted a probe; without, nothing is known (not "ok")."""
        return any(v is not None for v in self.sli.values())

    @property
    def status(self) -> str:
        """``no_data``, else the alert state (``ok``, ``ticket``, ``page``)."""
        return self.alert if self.has_data else "no_data"

    @property
    def fastest_burn_rate(self) -> float | None:
        """The highest known burn rate over any window, or None without data."""
        known = [b for b in self.burn_rates.values() if b is not None]
        return max(known) if known else None


@dataclass(frozen=True, slots=True)
class SloStatus:
    """The evaluation of one :class:`SloSpec` at ``now``."""

    spec: SloSpec
    now: float
    availability: ObjectiveStatus
    latency: ObjectiveStatus | None = None
    counts: Mapping[str, Counts] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``no_data`` when the availability objective has no counted probe, else
        :attr:`alert`."""
        return self.alert if self.availability.has_data else "no_data"

    @property
    def alert(self) -> AlertState:
        """The most severe alert state of either objective."""
        states = [self.availability.alert]
        if self.latency is not None:
            states.append(self.latency.alert)
        return max(states, key=lambda s: ALERT_STATE_VALUES[s])


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    return numerator / denominator if denominator > 0 else None


def burn_rate(bad: int, total: int, objective: float) -> float | None:
    """How many times faster than sustainable the budget burns; None without data."""
    error_ratio = ratio(bad, total)
    return None if error_ratio is None else error_ratio / (1.0 - objective)


def counts_between(buckets: Iterable[Bucket], start: float, end: float) -> Counts:
    """The sum of the buckets whose start lies in ``[start, end)``."""
    good = total = degraded = 0
    for b in buckets:
        if start <= b.start < end:
            good += b.counts.good
            total += b.counts.total
            degraded += b.counts.degraded
    return Counts(good, total, degraded)


def month_bounds(year: int, month: int, tz: str = "UTC") -> tuple[float, float]:
    """Unix seconds of the first instant of ``year-month`` and of the month after, in ``tz``."""
    zone = ZoneInfo(tz)
    start = datetime(year, month, 1, tzinfo=zone)
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    end = datetime(ny, nm, 1, tzinfo=zone)
    return start.timestamp(), end.timestamp()


def month_start(now: float, tz: str = "UTC") -> float:
    """Unix seconds of the start of the calendar month containing ``now`` in ``tz``."""
    local = datetime.fromtimestamp(now, ZoneInfo(tz))
    return month_bounds(local.year, local.month, tz)[0]


def window_counts(
    buckets: Iterable[Bucket], labels: Iterable[str], now: float, month_from: float | None = None
) -> dict[str, Counts]:
    """Counts per rolling window ending at ``now`` (and ``month`` from ``month_from``).

    The reference implementation the stores' fast paths must agree with.
    """
    series = list(buckets)
    out = {label: counts_between(series, now - window_seconds(label), now) for label in labels}
    if month_from is not None:
        out[MONTH] = counts_between(series, month_from, now)
    return out


def evaluate_objective(
    objective: float, spec: SloSpec, bad_total: Mapping[str, tuple[int, int]]
) -> ObjectiveStatus:
    """The status of one objective from ``(bad, total)`` per window label."""

    def burn(label: str) -> float | None:
        bad, total = bad_total.get(label, (0, 0))
        return burn_rate(bad, total, objective)

    sli: dict[str, float | None] = {}
    for label in (*SLI_WINDOWS, spec.period, MONTH):
        bad, total = bad_total.get(label, (0, 0))
        sli[label] = None if total == 0 else (total - bad) / total
    burn_rates = {label: burn(label) for label in BURN_RATE_WINDOWS}

    budget_ratio = 1.0 - objective
    budget_minutes = budget_ratio * spec.period_seconds / 60.0
    period_burn = burn(spec.period)
    remaining = None if period_burn is None else 1.0 - period_burn
    remaining_minutes = None if remaining is None else remaining * budget_minutes

    current = burn(spec.current_window)
    exhaustion: float | None = None
    if remaining is not None and remaining <= 0.0:
        exhaustion = 0.0
    elif remaining is not None and current is not None and current > 0.0:
        exhaustion = remaining * spec.period_seconds / current

    firing = []
    for row in spec.alert_windows.rows:
        long_burn, short_burn = burn(row.long), burn(row.short)
        # Unknown never fires: an alert on missing data belongs to a probe-health alert.
        if (
            long_burn is not None
            and short_burn is not None
            and long_burn > row.burn_rate
            and short_burn > row.burn_rate
        ):
            firing.append(row)
    alert: AlertState = "ok"
    if any(r.severity == "page" for r in firing):
        alert = "page"
    elif firing:
        alert = "ticket"

    return ObjectiveStatus(
        objective=objective,
        sli=sli,
        burn_rates=burn_rates,
        error_budget_ratio=budget_ratio,
        error_budget_minutes=budget_minutes,
        budget_remaining_ratio=remaining,
        budget_remaining_minutes=remaining_minutes,
        current_burn_rate=current,
        exhaustion_seconds=exhaustion,
        alert=alert,
        firing=tuple(firing),
    )


def evaluate(spec: SloSpec, counts: Mapping[str, Counts], now: float) -> SloStatus:
    """Evaluate ``spec`` from counts per window label (see :attr:`SloSpec.windows`).

    ``counts`` should also hold ``month`` (from :func:`month_start` to ``now``).  A
    missing label is treated as a window without data.
    """
    availability = evaluate_objective(
        spec.objective, spec, {k: (c.bad, c.total) for k, c in counts.items()}
    )
    latency = None
    if spec.latency_objective is not None:
        latency = evaluate_objective(
            spec.latency_objective,
            spec,
            {k: (c.total - c.fast, c.total) for k, c in counts.items()},
        )
    return SloStatus(spec, now, availability, latency, dict(counts))


def evaluate_buckets(spec: SloSpec, buckets: Iterable[Bucket], now: float) -> SloStatus:
    """Evaluate ``spec`` straight from one bucket series (the reference path for tests)."""
    counts = window_counts(buckets, spec.windows, now, month_start(now, spec.timezone))
    return evaluate(spec, counts, now)


def duration_label(seconds: float) -> str:
    """The shortest window label for a whole number of minutes: 2592000 → ``30d``."""
    whole = int(seconds)
    if whole != seconds or whole <= 0 or whole % 60:
        raise ValueError(f"{seconds!r} seconds is not a whole, positive number of minutes")
    for unit, size in (("d", 86400), ("h", 3600)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole // 60}m"


def objective_dict(status: ObjectiveStatus) -> dict[str, Any]:
    """One objective as JSON-ready data; ``None`` (no data) stays ``null``."""
    return {
        "objective_ratio": status.objective,
        "sli_ratio": dict(status.sli),
        "burn_rate": dict(status.burn_rates),
        "error_budget_ratio": status.error_budget_ratio,
        "error_budget_minutes": status.error_budget_minutes,
        "error_budget_remaining_ratio": status.budget_remaining_ratio,
        "error_budget_remaining_minutes": status.budget_remaining_minutes,
        "current_burn_rate": status.current_burn_rate,
        "fastest_burn_rate": status.fastest_burn_rate,
        "exhaustion_seconds": status.exhaustion_seconds,
        "alert": status.alert,
        "status": status.status,
        "firing": [
            {"severity": r.severity, "long": r.long, "short": r.short, "burn_rate": r.burn_rate}
            for r in status.firing
        ],
    }


def status_dict(status: SloStatus) -> dict[str, Any]:
    """What ``omniwatch slo --json`` prints for one SLO."""
    return {
        "slo": status.spec.name,
        "period": status.spec.period,
        "alert": status.alert,
        "status": status.status,
        "availability": objective_dict(status.availability),
        "latency": None if status.latency is None else objective_dict(status.latency),
    }
