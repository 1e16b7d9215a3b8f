"""The objective rules: SLO burn rate, error budget exhausted, consistency.

Part of :mod:`alerts.rules` (whose :data:`~alerts.rules.RULES` lists them), apart only
to keep each module small.
"""

from __future__ import annotations

import math
from typing import Final

from alerts.annotate import alert_labels, annotation_set, budget_text, objective_text, percent
from alerts.evaluation import Evaluation, carried
from alerts.facts import SloFacts
from alerts.model import Labels, Signal

# Windows quoted when the facts do not say which rows fire: the first row of each
# severity of the SRE Workbook's 30-day table.
_FALLBACK_WINDOWS: Final = {"page": ("1h", "5m"), "ticket": ("1d", "2h")}


def _slo_labels(s: SloFacts, alertname: str, severity: str) -> Labels:
    return alert_labels(s.labels, alertname=alertname, slo=s.slo, channel=s.channel,
                        target=s.target or "", severity=severity)


def _carry_slo_alerts(ev: Evaluation, alertname: str) -> list[Signal]:
    # The SLOs could not be computed (the store is down): an unreadable history proves
    # neither an outage nor a recovery, so the SLO alerts stay exactly as they were.
    return sorted((s for a in ev.previous.values() if a.label("alertname") == alertname
                   for s in carried(a)), key=lambda s: s.labels)


def _slo_context(s: SloFacts) -> dict[str, str | None]:
    return {"sli": None if s.sli is None else percent(s.sli),
            "objective": objective_text(s.objective),
            "budget_left": None if s.budget_remaining_ratio is None
            else budget_text(s.budget_remaining_ratio)}


def _burn_text(s: SloFacts, severity: str) -> tuple[str, float]:
    """The quoted burn rates ("15.2x over 1h, 14.8x over 5m") and the fastest of them.

    The long and short window of the first firing row of ``severity`` (the table lists
    the fastest burn first): the two rates that made it fire, known ones only.
    """
    windows = (s.page_windows if severity == "page" else s.ticket_windows)[:2]
    quoted = [w for w in windows or _FALLBACK_WINDOWS[severity]
              if s.burn_rates.get(w) is not None]
    rates = [(w, s.burn_rates[w] or 0.0) for w in quoted]
    return (", ".join(f"{r:.1f}x over {w}" for w, r in rates),
            max((r for _, r in rates), default=0.0))


def burn_rate(ev: Evaluation) -> list[Signal]:
    """SloBurnRate: one alert per SLO and severity whose multi-window row fires."""
    if ev.inputs.slos is None:
        return _carry_slo_alerts(ev, "SloBurnRate")
    out = []
    for s in sorted(ev.inputs.slos, key=lambda s: s.slo):
        for severity, fires in (("page", s.page), ("ticket", s.ticket)):
            if not fires:
                continue
            labels = _slo_labels(s, "SloBurnRate", severity)
            text, fastest = _burn_text(s, severity)
            pace = f"{fastest:.1f}x " if text else ""
            out.append(Signal(
                labels=labels,
                annotations=annotation_set(
                    summary=f"SLO {s.slo} burns its error budget {pace}too fast ({severity})",
                    burn_rate=text or None, **_slo_context(s)),
                active_since=ev.since(labels)))
    return out


def budget_exhausted(ev: Evaluation) -> list[Signal]:
    """ErrorBudgetExhausted: nothing (or less) left of an SLO's error budget."""
    if ev.inputs.slos is None:
        return _carry_slo_alerts(ev, "ErrorBudgetExhausted")
    out = []
    for s in sorted(ev.inputs.slos, key=lambda s: s.slo):
        if s.budget_remaining_ratio is None or s.budget_remaining_ratio > 0.0:
            continue
        labels = _slo_labels(s, "ErrorBudgetExhausted", "ticket")
        ctx = _slo_context(s)
        out.append(Signal(
            labels=labels,
            annotations=annotation_set(
                summary=f"SLO {s.slo} has spent its error budget ({ctx['budget_left']} left)",
                **ctx),
            active_since=ev.since(labels)))
    return out


CONSISTENCY_ALERTS = frozenset({"ConsistencyBelowObjective", "ConsistencyCheckFailing"})


def consistency(ev: Evaluation) -> list[Signal]:
    """ConsistencyBelowObjective, and ConsistencyCheckFailing when a check cannot run."""
    out = []
    for c in sorted(ev.inputs.consistency, key=lambda c: (c.channel, c.reference, c.dataset)):
        below = alert_labels(c.labels, alertname="ConsistencyBelowObjective",
                             channel=c.channel, reference=c.reference, dataset=c.dataset,
                             severity="ticket")
        if c.error is not None:
            failing = alert_labels(c.labels, alertname="ConsistencyCheckFailing",
                                   channel=c.channel, reference=c.reference,
                                   dataset=c.dataset, severity="warning")
            out.append(Signal(
                labels=failing,
                annotations=annotation_set(
                    summary=f"The consistency check of {c.channel} against {c.reference} "
                            f"({c.dataset}) could not run", error=c.error),
                active_since=ev.since(failing)))
            # A broken check proves nothing: the last verdict stands until one runs.
            out += ev.carry(below)
            continue
        # As the report's meets_objective: a ratio equal to the objective meets it, even
        # when float division lands a hair below.
        if c.ratio is None or c.ratio >= c.objective or math.isclose(c.ratio, c.objective):
            continue
        ratio = percent(c.ratio)
        out.append(Signal(
            labels=below,
            annotations=annotation_set(
                summary=f"{c.channel} agrees with {c.reference} on {ratio} of {c.dataset} "
                        f"records, below the {objective_text(c.objective)} objective",
                ratio=ratio, objective=objective_text(c.objective), field=c.worst_field,
                judged=str(c.judged)),
            active_since=ev.since(below, c.at or None)))  # the check that found it
    awaited = set(ev.inputs.consistency_awaited)
    if awaited:
        kept = [a for a in ev.previous.values() if a.label("alertname") in CONSISTENCY_ALERTS
                and (a.label("dataset"), a.label("channel"), a.label("reference")) in awaited]
        out += [s for a in sorted(kept, key=lambda a: a.labels) for s in carried(a)]
    return out
