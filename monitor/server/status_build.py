"""Pure pieces of the status snapshot: states, SLO views, consistency, maintenance.

Every function takes what it needs as plain values (``now`` included), so the rules
(what makes a channel *down*, when an SLO is *exhausted*) are tested without a server.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from monitor.config.model import ServiceHours
from monitor.consistency.model import ConsistencyConfig, ConsistencyReport, Outcome
from monitor.metrics.consistency import ALL, overall
from monitor.metrics.state import TargetState
from monitor.server.status_model import (
    AlertLine,
    Availability,
    AvailabilityStatus,
    ChannelConsistency,
    ChannelState,
    Consistency,
    DatasetConsistency,
    MaintenanceLine,
    TargetCounts,
    TargetLine,
    TargetStateName,
)
from monitor.slo.budget import ObjectiveStatus, SloStatus
from monitor.slo.exclusions import MaintenanceWindow
from probes.result import ProbeResult

# The burn-rate windows shown (the SRE workbook's page and ticket long windows and 5m).
SHOWN_BURN_WINDOWS: Final = ("5m", "1h", "6h", "3d")
UPCOMING_SECONDS: Final = 7 * 86400.0
_DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Worst first: the overall state is the worst channel's.  Unknown (no result yet) ranks
# above up so a monitor that has not probed a channel never claims "up" for it.
_SEVERITY: Final[Mapping[str, int]] = {"down": 5, "degraded": 4, "unknown": 3, "up": 2,
                                       "maintenance": 1, "closed": 0}


def worst(states: Iterable[ChannelState]) -> ChannelState:
    """The most severe of ``states``; ``unknown`` when there are none."""
    return max(states, key=lambda s: _SEVERITY[s], default="unknown")


def availability(objective: ObjectiveStatus, window: str) -> Availability:
    """An objective's view: the SLI over ``window``, budget left, some burn rates.

    ``status``: ``no_data`` without counted probes; then ``page`` (a fast burn is on);
    ``exhausted`` (no budget left, even if nothing burns now); ``ticket``; ``ok``.
    """
    status: AvailabilityStatus
    remaining = objective.budget_remaining_ratio
    if not objective.has_data:
        status = "no_data"
    elif objective.alert == "page":
        status = "page"
    elif remaining is not None and remaining <= 0.0:
        status = "exhausted"
    else:
        status = objective.alert
    return Availability(objective=objective.objective, window=window,
                        sli=objective.sli.get(window), budget_remaining=remaining,
                        burn_rates={w: objective.burn_rates.get(w) for w in SHOWN_BURN_WINDOWS},
                        status=status)


def slo_availability(status: SloStatus) -> Availability:
    """:func:`availability` of an SLO's availability objective over its period."""
    return availability(status.availability, status.spec.period)


def excluded_now(channel: str, target: str, active: Sequence[MaintenanceWindow],
                 closed: bool) -> TargetStateName | None:
    """``maintenance`` or ``closed`` when probes of ``target`` are not counted now.

    ``active`` are the maintenance windows in effect now, ``closed`` whether the channel
    is outside its service hours (the same order as :meth:`Exclusions.reason`).
    """
    if any(w.applies_to(channel, target) for w in active):
        return "maintenance"
    return "closed" if closed else None


def target_line(st: TargetState, excluded: TargetStateName | None) -> TargetLine:
    """One target's line from its in-memory state."""
    last = st.last
    state: TargetStateName
    if excluded is not None:
        state = excluded
    elif last is None:
        state = "pending"
    elif not last.success:
        state = "down"
    else:
        state = "degraded" if last.degraded else "up"
    return TargetLine(
        name=st.target, channel=st.channel, kind=st.kind, state=state,
        reason=None if last is None or last.success else last.reason,
        since=st.since, last_run=None if last is None else (last.started_at or None),
        duration_seconds=None if last is None else last.duration_seconds)


def target_counts(lasts: Iterable[ProbeResult | None]) -> TargetCounts:
    """Targets by latest result (``None``: none yet), whatever an exclusion says now."""
    up = degraded = down = pending = total = 0
    for last in lasts:
        total += 1
        if last is None:
            pending += 1
        elif not last.success:
            down += 1
        elif last.degraded:
            degraded += 1
        else:
            up += 1
    return TargetCounts(total, up, degraded, down, pending)


def channel_state(counts: TargetCounts, in_maintenance: bool, closed: bool) -> ChannelState:
    """``maintenance`` (a window covering the whole channel, or each of its targets) and
    ``closed`` (outside service hours) first; then, over ``counts`` of the targets counted
    now (none in a maintenance window): ``unknown`` before any result; ``down`` when every
    target with a result is down; ``degraded`` when some are down or slow; else ``up``."""
    if in_maintenance:
        return "maintenance"
    if closed:
        return "closed"
    seen = counts.total - counts.pending
    if seen == 0:
        return "unknown"
    if counts.down == seen:
        return "down"
    return "degraded" if counts.down or counts.degraded else "up"


def service_hours_text(hours: ServiceHours | None) -> str | None:
    """``mon-sat 09:00-17:00 Asia/Shanghai``: days as ranges, then hours and zone."""
    if hours is None:
        return None
    days = sorted(hours.days)
    runs: list[str] = []
    i = 0
    while i < len(days):
        j = i
        while j + 1 < len(days) and days[j + 1] == days[j] + 1:
            j += 1
        first, last = _DAY_NAMES[days[i]], _DAY_NAMES[days[j]]
        runs.append(first if i == j else f"{first}-{last}")
        i = j + 1
    return f"{','.join(runs)} {hours.start}-{hours.end} {hours.tz}"


def maintenance_lines(windows: Sequence[MaintenanceWindow], now: float
                      ) -> tuple[MaintenanceLine, ...]:
    """Occurrences in effect at ``now`` or starting in the next 7 days, by start."""
    out = []
    for w in windows:
        # From one duration back, so an occurrence in progress keeps its real start.
        back = w.duration_seconds if w.cron is not None else 0.0
        start = now - back if w.cron is not None else (w.start or now)
        for begin, end in w.occurrences(min(start, now), now + UPCOMING_SECONDS):
            if end <= now:
                continue
            out.append(MaintenanceLine(name=w.name, channels=tuple(sorted(w.channels)),
                                       targets=tuple(sorted(w.targets)), starts_at=begin,
                                       ends_at=end, active=begin <= now < end))
    return tuple(sorted(out, key=lambda m: (m.starts_at, m.name)))


def _nan_none(v: float) -> float | None:
    return None if math.isnan(v) else v


def combined_ratio(reports: Iterable[ConsistencyReport]) -> float | None:
    """Matches over judged keys of ``reports`` together (the metric's ``all``)."""
    rows = overall(reports)
    return next((_nan_none(r) for _, ch, _, r in reversed(rows) if ch == ALL), None)


def channel_consistency(channel: str, report: ConsistencyReport | None) -> ChannelConsistency:
    """The latest check of ``channel``; ``inconsistent`` counts mismatched, invalid and
    duplicate keys (missing and extra keys have their own counts)."""
    if report is None:
        return ChannelConsistency(channel, None, None, None, None, None, None, None, None,
                                  None, None)
    c = report.counts
    fields = report.field_mismatches
    worst_field = max(sorted(fields), key=lambda f: fields[f]) if any(
        fields.values()) else None
    ok = report.success
    return ChannelConsistency(
        channel=channel, ratio=report.ratio, mode=report.mode,
        judged=report.judged if ok else None,
        inconsistent=(c.get(Outcome.MISMATCH, 0) + c.get(Outcome.INVALID, 0)
                      + c.get(Outcome.DUPLICATE_KEY, 0)) if ok else None,
        missing=c.get(Outcome.MISSING, 0) if ok else None,
        extra=c.get(Outcome.EXTRA, 0) if ok else None,
        pending=c.get(Outcome.PENDING_SYNC, 0) if ok else None,
        worst_field=worst_field if ok else None,
        last_run=report.started_at.timestamp(), error=report.error)


def consistency(datasets: Sequence[ConsistencyConfig],
                latest: Mapping[tuple[str, str], ConsistencyReport],
                whole: Mapping[tuple[str, str], ConsistencyReport]) -> Consistency:
    """Every configured dataset with its channels' latest checks.

    Ratios per dataset and overall weigh the latest *whole* runs, as
    ``omniwatch_consistency_ratio{dataset="all"}`` does; a channel's own ratio is its
    latest run of any kind, as its metric is.
    """
    out = []
    for d in datasets:
        mine = [r for (ds, _), r in whole.items() if ds == d.dataset]
        out.append(DatasetConsistency(
            name=d.dataset, reference=d.reference, ratio=combined_ratio(mine),
            channels=tuple(channel_consistency(ch, latest.get((d.dataset, ch)))
                           for ch in d.channels), objective=d.objective))
    return Consistency(objective=datasets[0].objective if datasets else None,
                       ratio=combined_ratio(whole.values()), datasets=tuple(out))


def alert_lines(alerts: Iterable[Mapping[str, Any]]) -> tuple[AlertLine, ...]:
    """Firing, unmuted alerts (from :func:`alerts.views.current_alerts`), newest first."""
    out = []
    for a in alerts:
        if a["status"] != "firing" or a["muted_by"]:
            continue
        labels, notes = a["labels"], a["annotations"]
        out.append(AlertLine(alertname=a["alertname"], severity=a["severity"],
                             channel=labels.get("channel"), target=labels.get("target"),
                             summary=notes.get("summary"),
                             since=a["fired_at"] or a["active_since"]))
    return tuple(sorted(out, key=lambda a: -(a.since or 0.0)))
