"""The status page's sections below the channels: journeys, consistency, firing alerts,
maintenance and incidents.  Pure functions of the snapshot dict (see
``monitor/server/status.py``) and a word table; ``now`` is the snapshot's own time.
"""

from __future__ import annotations

from typing import Any

from monitor.server.page.fmt import (
    Words,
    clock,
    count,
    esc,
    moment,
    objective,
    percent,
    seconds,
    span,
)
from monitor.server.page.parts import (
    badge,
    coded,
    flag,
    mark,
    reason,
    section,
    table,
    target_link,
    text_or_dash,
)


def _list(status: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = status.get(key)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _empty(w: Words, status: dict[str, Any], key: str, sentence: str) -> str:
    """What an empty list says: ``sentence`` ("no alert is firing") when the snapshot
    knows the list is empty, "no data" when it could not read it (null)."""
    return esc(w["no_data"]) if status.get(key, []) is None else esc(w[sentence])


def _flow_objective(w: Words, o: dict[str, Any]) -> str:
    name = esc(o.get("name") or f"p{o.get('percentile')}")
    return (f'<li>{name} ≤ {seconds(w, o.get("objective_seconds"))}: '
            f'{seconds(w, o.get("value_seconds"))} {flag(w, o.get("met"))}</li>')


def journeys(w: Words, status: dict[str, Any]) -> str:
    """Each journey: its state, its last flow time, and each flow-time objective."""
    rows = []
    for j in _list(status, "journeys"):
        objectives = [o for o in j.get("objectives") or [] if isinstance(o, dict)]
        goals = (f'<ul class="plain">{"".join(_flow_objective(w, o) for o in objectives)}'
                 "</ul>" if objectives else "—")
        rows.append([target_link(j.get("name")), esc(j.get("channel", "")),
                     badge(w, j.get("state")), seconds(w, j.get("last_duration_seconds")),
                     goals])
    heads = [w["journey"], w["channel"], w["state"], w["last_duration"],
             w["flow_objectives"]]
    return section("journeys", w, table([esc(h) for h in heads], rows,
                                        empty=esc(w["no_journeys"])))


def _consistency_row(w: Words, c: dict[str, Any], goal: Any, now: float) -> list[str]:
    error = c.get("error")
    return [
        esc(c.get("channel", "")),
        percent(w, c.get("ratio"), 2) + mark(w, c.get("ratio"), goal),
        coded(w, "mode", c.get("mode")),
        count(w, c.get("judged")), count(w, c.get("inconsistent")),
        count(w, c.get("missing")), count(w, c.get("extra")), count(w, c.get("pending")),
        f'<code>{esc(c["worst_field"])}</code>' if c.get("worst_field") else "—",
        moment(w, c.get("last_run"), now),
        f'<span class="error">{esc(error)}</span>' if error else "—",
    ]


def consistency(w: Words, status: dict[str, Any]) -> str:
    """The overall ratio against the objective, then each dataset's channels."""
    doc = status.get("consistency")
    doc = doc if isinstance(doc, dict) else {}
    goal = doc.get("objective")
    now = float(status.get("generated_at") or 0.0)
    datasets = [d for d in doc.get("datasets") or [] if isinstance(d, dict)]
    if not datasets:
        return section("consistency", w, f'<p class="empty">{esc(w["no_datasets"])}</p>')
    heads = [w[k] for k in ("channel", "ratio", "mode", "judged", "inconsistent", "missing",
                            "extra", "pending", "worst_field", "last_run", "error")]
    parts = [f'<p class="summary">{esc(w["all_datasets"])}: '
             f'<strong>{percent(w, doc.get("ratio"), 2)}</strong>{mark(w, doc.get("ratio"), goal)}'
             f' <small>({esc(w["objective"])} {percent(w, goal, 0)})</small></p>']
    for d in datasets:
        # Each dataset against its own objective (the overall one is the first dataset's).
        own = d.get("objective", goal)
        rows = [_consistency_row(w, c, own, now)
                for c in d.get("channels") or [] if isinstance(c, dict)]
        parts.append(
            f'<h3 class="dataset">{esc(w["dataset"])} <code>{esc(d.get("name", ""))}</code>'
            f' · {esc(w["reference"])} <code>{esc(d.get("reference", ""))}</code> · '
            f'{percent(w, d.get("ratio"), 2)}{mark(w, d.get("ratio"), own)}'
            f' <small>({esc(w["objective"])} {objective(own)})</small></h3>'
            + table([esc(h) for h in heads], rows, empty=esc(w["no_data"]),
                    cls="consistency"))
    return section("consistency", w, "".join(parts))


def alerts(w: Words, status: dict[str, Any]) -> str:
    """Firing alerts, newest first (the snapshot's order)."""
    now = float(status.get("generated_at") or 0.0)
    rows = [[esc(a.get("alertname", "")), badge(w, a.get("severity"), "severity"),
             text_or_dash(a.get("channel")),
             target_link(a["target"]) if a.get("target") else "—",
             text_or_dash(a.get("summary")), moment(w, a.get("since"), now)]
            for a in _list(status, "alerts")]
    heads = [w[k] for k in ("alertname", "severity", "channel", "target", "summary", "since")]
    return section("alerts", w, table([esc(h) for h in heads], rows,
                                      empty=_empty(w, status, "alerts", "no_alerts")))


def maintenance(w: Words, status: dict[str, Any]) -> str:
    """Current and upcoming maintenance windows."""
    rows = []
    for m in _list(status, "maintenance"):
        # A window names channels, targets, or neither (then it covers everything).
        scope = [*(m.get("channels") or []), *(m.get("targets") or [])]
        rows.append([esc(m.get("name", "")),
                     esc(", ".join(str(c) for c in scope)) if scope else esc(w["everything"]),
                     clock(m.get("starts_at")), clock(m.get("ends_at")),
                     badge(w, "maintenance") if m.get("active") else esc(w["upcoming"])])
    heads = [w[k] for k in ("window_name", "applies_to", "starts", "ends", "state")]
    empty = _empty(w, status, "maintenance", "no_maintenance")
    return section("maintenance", w, table([esc(h) for h in heads], rows, empty=empty))


def incidents(w: Words, status: dict[str, Any]) -> str:
    """Recent incidents, newest first; an open one says so and counts to now."""
    now = float(status.get("generated_at") or 0.0)
    rows = []
    for i in _list(status, "incidents"):
        start, end = i.get("started_at"), i.get("ended_at")
        lasted = (span(w, (end if end is not None else now) - start)
                  if isinstance(start, int | float) else "—")
        rows.append([esc(i.get("channel", "")),
                     target_link(i["target"]) if i.get("target") else "—",
                     clock(start),
                     clock(end) if end is not None else badge(w, "down") + " "
                     + esc(w["ongoing"]),
                     lasted, reason(w, i.get("reason"))])
    heads = [w[k] for k in ("channel", "target", "started", "ended", "duration", "reason")]
    return section("incidents", w, table([esc(h) for h in heads], rows,
                                         empty=_empty(w, status, "incidents", "no_incidents")))
