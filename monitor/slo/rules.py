"""Prometheus recording and multi-window, multi-burn-rate alert rules for our SLOs. Pure.

For teams that evaluate SLOs in Prometheus and route through Alertmanager.  The rules read
the exported counter ``omniwatch_probes_total{channel,target,result,reason}`` (``result``
is ``success``, ``degraded`` or ``failure``; excluded probes are not in it), and use the
same window table as :mod:`monitor.slo.budget` (:mod:`monitor.slo.windows`), so an SLO pages in
Prometheus exactly when ``omniwatch slo`` says it pages.

Per SLO and window the recording rule is the error ratio over the window::

    omniwatch:slo_error_ratio:rate1h{slo="app", channel="app"}
      = (sum(rate(bad[1h])) or vector(0)) / sum(rate(all[1h]))

The ``or vector(0)`` makes a channel that never failed read 0, not "no data"; a channel
without probes still has no ratio, and then no alert fires (unknown is not an outage).
A latency objective adds a second SLO named ``<name>-latency`` whose bad events are
``failure`` and ``degraded``.  Alerts: one ``OmniwatchErrorBudgetBurn`` rule per
severity per SLO, the rows of a severity joined by ``or``, each row firing when both its
long and its short window burn faster than the factor (strict ``>``, as the workbook).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from monitor.slo.budget import SloSpec
from monitor.slo.windows import window_seconds

COUNTER: Final = "omniwatch_probes_total"
ALERT_NAME: Final = "OmniwatchErrorBudgetBurn"
RECORD_PREFIX: Final = "omniwatch:slo_error_ratio:rate"
OBJECTIVE_RECORD: Final = "omniwatch:slo_objective:ratio"


@dataclass(frozen=True, slots=True)
class PrometheusSlo:
    """An SLO as Prometheus sees it: a spec and the counter labels that select its probes."""

    spec: SloSpec
    selector: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def for_channel(cls, spec: SloSpec, channel: str) -> PrometheusSlo:
        """The usual case: one SLO over every target of ``channel``."""
        return cls(spec, {"channel": channel})


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _matchers(labels: Mapping[str, str], extra: str = "") -> str:
    parts = [f"{k}={_quote(v)}" for k, v in sorted(labels.items())]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}"


def _number(value: float) -> str:
    return f"{value:.12g}"


def _one_slo(
    name: str, objective: float, spec: SloSpec, selector: Mapping[str, str], bad: str
) -> dict[str, Any]:
    labels = {"slo": name, **selector}
    windows = spec.alert_windows
    rules: list[dict[str, Any]] = []
    for window in windows.labels:
        all_rate = f"rate({COUNTER}{_matchers(selector)}[{window}])"
        bad_rate = f"rate({COUNTER}{_matchers(selector, bad)}[{window}])"
        rules.append(
            {
                "record": f"{RECORD_PREFIX}{window}",
                "expr": f"(sum({bad_rate}) or vector(0))\n/\nsum({all_rate})\n",
                "labels": dict(labels),
            }
        )
    rules.append(
        {"record": OBJECTIVE_RECORD, "expr": f"vector({_number(objective)})", "labels": labels}
    )
    budget = _number(1.0 - objective)
    own = _matchers({"slo": name})
    for severity in ("page", "ticket"):
        rows = [r for r in windows.rows if r.severity == severity]
        if not rows:
            continue
        terms = [
            f"(\n  {RECORD_PREFIX}{r.long}{own} > ({_number(r.burn_rate)} * {budget})\n"
            f"  and\n  {RECORD_PREFIX}{r.short}{own} > ({_number(r.burn_rate)} * {budget})\n)"
            for r in rows
        ]
        pairs = ", ".join(f"{r.long}/{r.short} above {_number(r.burn_rate)}x" for r in rows)
        rules.append(
            {
                "alert": ALERT_NAME,
                "expr": "\nor\n".join(terms) + "\n",
                "labels": {"severity": severity, **labels},
                "annotations": {
                    "summary": f"SLO {name} is burning its error budget too fast ({severity})",
                    "description": (
                        f"Objective {_number(objective * 100)}% over {windows.period}: "
                        f"error ratio {{{{ $value | humanizePercentage }}}} over the long "
                        f"window; fires on {pairs}."
                    ),
                },
            }
        )
    return {"name": f"omniwatch-slo-{name}", "rules": rules}


def rule_groups(slos: Sequence[PrometheusSlo]) -> dict[str, Any]:
    """The rule file as data: one group per SLO (two with a latency objective)."""
    groups = []
    for slo in slos:
        spec = slo.spec
        groups.append(_one_slo(spec.name, spec.objective, spec, slo.selector, 'result="failure"'))
        if spec.latency_objective is not None:
            groups.append(
                _one_slo(
                    f"{spec.name}-latency",
                    spec.latency_objective,
                    spec,
                    slo.selector,
                    'result=~"failure|degraded"',
                )
            )
    return {"groups": groups}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so PromQL stays readable in the file."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_rules(slos: Sequence[PrometheusSlo]) -> str:
    """The rule file as YAML, ready for ``promtool check rules``."""
    header = (
        "# Generated by `omniwatch rules`: SLO recording rules and multi-window,\n"
        "# multi-burn-rate alerts (SRE Workbook, ch. 5). Edit the config, not this file.\n"
    )
    body = yaml.dump(rule_groups(slos), Dumper=_Dumper, sort_keys=False, width=100)
    return header + body


def longest_window_seconds(slos: Sequence[PrometheusSlo]) -> float:
    """The longest range the rules query: Prometheus must retain at least this much."""
    return max(window_seconds(w) for s in slos for w in s.spec.alert_windows.labels)
