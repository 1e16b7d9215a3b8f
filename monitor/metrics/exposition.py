"""Fast text exposition of per-target probe series.

prometheus_client formats every sample on every scrape; with 10,000 targets and ~24
series each that took seconds.  Here each target's lines are rendered once per new
result and cached, and a scrape only joins cached strings, family by family (the text
format wants every family's samples grouped under one TYPE line).  The small,
process-wide families still go through a ``CollectorRegistry``; see
:mod:`monitor.metrics.collectors`.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.metrics.state import FlowState, Histogram, TargetState
from probes.result import PHASES, ProbeResult

# (name, type, help) in output order.  Index positions are used by _render_target.
FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("omniwatch_probe_success", "gauge", "1 if the last probe succeeded (degraded counts)."),
    ("omniwatch_probe_degraded", "gauge",
     "1 if the last probe succeeded but slower than its latency threshold."),
    ("omniwatch_probe_last_duration_seconds", "gauge",
     "Duration of the last probe, as omniwatch_probe_duration_seconds measures it."),
    ("omniwatch_probe_duration_seconds", "histogram",
     "Wall time of each probe's last attempt, from its first network step (DNS lookup, "
     "else TCP connect) to the last byte read or the failure: the sum of its phases plus "
     "the gaps between them. Excludes omniwatch's own setup (TLS contexts, imports) and "
     "the checks of the body after it arrived."),
    ("omniwatch_probe_phase_seconds", "gauge", "Seconds spent per phase in the last probe."),
    ("omniwatch_probes_total", "counter",
     "Confirmed probe outcomes by result (success, degraded, failure) and reason."),
    ("omniwatch_probe_attempts_total", "counter",
     "Raw probe attempts, including confirmation re-attempts."),
    ("omniwatch_http_status_code", "gauge", "HTTP status code of the last response."),
    ("omniwatch_tls_cert_expiry_timestamp_seconds", "gauge",
     "notAfter of the leaf certificate seen by the last probe, in Unix seconds."),
    ("omniwatch_probe_last_run_timestamp_seconds", "gauge", "When the last probe started."),
    ("omniwatch_probes_excluded_total", "counter",
     "Probes not counted in any SLI, by reason (service_hours, maintenance:<name>)."),
)
# Journey and browser families, after FAMILIES: only a flow target's block has them, and
# a scrape without flow targets writes none of them, not even their HELP lines.
FLOW_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("omniwatch_journey_step_success", "gauge",
     "1 if the step succeeded in the last run of the journey or browser check; 0 if it "
     "failed or was skipped."),
    ("omniwatch_journey_step_skipped", "gauge",
     "1 if the last run skipped the step (an earlier step failed, or a variable it needs "
     "was never extracted): its 0 success is not an outage of its own."),
    ("omniwatch_journey_step_duration_seconds", "histogram",
     "Wall time of each step that ran (skipped steps are not observed)."),
    ("omniwatch_journey_duration_seconds", "histogram",
     "Wall time of each successful run of the journey or browser check (failed runs are "
     "not observed): the flow time that the flow-time objectives read."),
    ("omniwatch_browser_timing_seconds", "gauge",
     "Page timings of the last browser check, as the page exposed them: ttfb, fcp (First "
     "Contentful Paint), lcp (Largest Contentful Paint), dom_content_loaded, load."),
    ("omniwatch_browser_cls", "gauge",
     "Cumulative Layout Shift of the page in the last browser check (unitless)."),
)
# ProbeResult.measurements keys behind omniwatch_browser_timing_seconds{timing}.
BROWSER_TIMINGS: tuple[tuple[str, str], ...] = (
    ("ttfb_seconds", "ttfb"), ("fcp_seconds", "fcp"), ("lcp_seconds", "lcp"),
    ("dom_content_loaded_seconds", "dom_content_loaded"), ("load_seconds", "load"))
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label(value: str) -> str:
    """Escape a label value for the text format."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def fmt(value: float) -> str:
    """A sample value: integers without a fraction, other floats in full precision."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _histogram(name: str, lbl: str, h: Histogram) -> str:
    cum = h.cumulative()
    return "".join(
        [f'{name}_bucket{{{lbl},le="{b!r}"}} {c}\n' for b, c in zip(h.bounds, cum, strict=False)]
        + [f'{name}_bucket{{{lbl},le="+Inf"}} {cum[-1]}\n',
           f"{name}_sum{{{lbl}}} {fmt(h.total)}\n",
           f"{name}_count{{{lbl}}} {cum[-1]}\n"]
    )


def _render_flow(lbl: str, flow: FlowState, last: ProbeResult | None) -> list[str]:
    """The FLOW_FAMILIES lines of one flow target, one string per family."""
    out = [""] * len(FLOW_FAMILIES)
    if last is not None:
        names = flow.names
        steps = [(f'{lbl},step="{escape_label(s.name)}"', s) for s in last.steps
                 if names is None or s.name in names]
        out[0] = "".join(f"omniwatch_journey_step_success{{{sl}}} {1 if s.success else 0}\n"
                         for sl, s in steps)
        out[1] = "".join(f"omniwatch_journey_step_skipped{{{sl}}} {1 if s.skipped else 0}\n"
                         for sl, s in steps)
        m = last.measurements
        out[4] = "".join(f'omniwatch_browser_timing_seconds{{{lbl},timing="{t}"}} {fmt(m[key])}\n'
                         for key, t in BROWSER_TIMINGS if key in m)
        if "cls" in m:
            out[5] = f"omniwatch_browser_cls{{{lbl}}} {fmt(m['cls'])}\n"
    out[2] = "".join(
        _histogram("omniwatch_journey_step_duration_seconds",
                   f'{lbl},step="{escape_label(name)}"', h)
        for name, h in flow.step_duration.items())
    out[3] = _histogram("omniwatch_journey_duration_seconds", lbl, flow.duration)
    return out


def _render_target(st: TargetState) -> tuple[str, ...]:
    lbl = f'channel="{escape_label(st.channel)}",target="{escape_label(st.target)}"'
    out = [""] * len(FAMILIES)
    last = st.last
    if last is not None:
        out[0] = f"omniwatch_probe_success{{{lbl}}} {1 if last.success else 0}\n"
        out[1] = f"omniwatch_probe_degraded{{{lbl}}} {1 if last.degraded else 0}\n"
        out[2] = f"omniwatch_probe_last_duration_seconds{{{lbl}}} {fmt(last.duration_seconds)}\n"
        out[4] = "".join(
            f'omniwatch_probe_phase_seconds{{{lbl},phase="{p}"}} {fmt(last.phases[p])}\n'
            for p in PHASES if p in last.phases
        )
        if last.status_code is not None:
            out[7] = f"omniwatch_http_status_code{{{lbl}}} {last.status_code}\n"
        if last.cert_expiry_timestamp is not None:
            out[8] = (f"omniwatch_tls_cert_expiry_timestamp_seconds{{{lbl}}} "
                      f"{fmt(last.cert_expiry_timestamp)}\n")
        out[9] = f"omniwatch_probe_last_run_timestamp_seconds{{{lbl}}} {fmt(last.started_at)}\n"
    out[3] = _histogram("omniwatch_probe_duration_seconds", lbl, st.duration)
    out[5] = "".join(
        f'omniwatch_probes_total{{{lbl},result="{r}",reason="{escape_label(why)}"}} {n}\n'
        for (r, why), n in sorted(st.results.items())
    )
    out[6] = f"omniwatch_probe_attempts_total{{{lbl}}} {st.attempts}\n"
    out[10] = "".join(
        f'omniwatch_probes_excluded_total{{{lbl},reason="{escape_label(why)}"}} {n}\n'
        for why, n in sorted(st.excluded.items())
    )
    if st.flow is not None:
        out += _render_flow(lbl, st.flow, last)
    return tuple(out)


def prerender(st: TargetState) -> None:
    """Render ``st``'s block now, so the next scrape only joins strings.

    Called after every observation: 30-40 us spread evenly over the probes, instead of
    hundreds of milliseconds in one scrape that would hold up every probe due meanwhile.
    """
    st.rendered = (st.version, _render_target(st))


def render_targets(states: Iterable[TargetState]) -> str:
    """Text exposition of every per-target family for ``states``.

    A target's block is rendered again only when its ``version`` moved since it was last
    rendered, so a scrape costs little more than a join over cached strings.  Flow
    targets' blocks are longer (FLOW_FAMILIES follow): only they are walked for those.
    """
    blocks = []
    flows = []
    base = len(FAMILIES)
    for st in states:
        cached = st.rendered
        if cached is None or cached[0] != st.version:
            cached = (st.version, _render_target(st))
            st.rendered = cached
        block = cached[1]
        blocks.append(block)
        if len(block) > base:
            flows.append(block)
    parts: list[str] = []
    for i, (name, kind, help_text) in enumerate(FAMILIES):
        parts.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
        parts.extend(b[i] for b in blocks)
    if flows:
        for i, (name, kind, help_text) in enumerate(FLOW_FAMILIES, start=base):
            parts.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
            parts.extend(b[i] for b in flows)
    return "".join(parts)
