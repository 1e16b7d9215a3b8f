"""``/api/v1/targets/{name}``: one target's configuration, latest result, SLO and latency.

:func:`target_detail` is pure: the target, its in-memory state and its SLO status in,
the JSON-ready dict out.  The latest result's message, phases and steps are the probe's
own, already free of secrets and bodies (see :mod:`probes.result`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.config.model import Config, Target
from monitor.flows import step_facts
from monitor.metrics.state import Histogram, TargetState
from monitor.server.status_build import slo_availability, target_line
from monitor.server.status_model import TargetStateName, plain
from monitor.slo.bindings import slo_bindings
from monitor.slo.budget import SloSpec, SloStatus, evaluate, month_start
from monitor.store import ProbeStore
from probes.result import ProbeResult


def histogram_quantile(h: Histogram, q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``h``, interpolated inside its bucket as Prometheus's
    ``histogram_quantile`` does; None when empty; the last bound past it."""
    n = sum(h.counts)
    if n == 0:
        return None
    rank = q * n
    seen = 0
    for i, count in enumerate(h.counts):
        if count and seen + count >= rank:
            if i == len(h.bounds):
                return h.bounds[-1]
            lower = 0.0 if i == 0 else h.bounds[i - 1]
            return lower + (h.bounds[i] - lower) * max(0.0, rank - seen) / count
        seen += count
    return h.bounds[-1]


def target_spec(config: Config, target: Target) -> SloSpec:
    """The SLO a target is held to: its own when configured, else its channel's."""
    bindings = slo_bindings(config)
    own = next((b for b in bindings if b.kind == "target" and b.scope == target.name), None)
    if own is not None:
        return own.spec
    channel = next(b for b in bindings if b.kind == "channel" and b.scope == target.channel)
    return channel.spec


def target_slo(store: ProbeStore, spec: SloSpec, name: str, now: float) -> SloStatus:
    """``spec`` evaluated over the target's own buckets (blocking)."""
    counts = store.window_counts("target", spec.windows, now,
                                 month_from=month_start(now, spec.timezone), names=[name])
    return evaluate(spec, counts.get(name, {}), now)


def target_detail(target: Target, st: TargetState, excluded: TargetStateName | None,
                  slo: SloStatus | None, store_error: str | None) -> dict[str, Any]:
    """The detail of one target (``availability`` None when the store cannot be read)."""
    line = target_line(st, excluded)
    last = st.last
    latency = None
    p50, p95 = histogram_quantile(st.duration, 0.5), histogram_quantile(st.duration, 0.95)
    if p50 is not None:
        latency = {"p50": p50, "p95": p95}
    return {
        "name": target.name, "channel": target.channel, "kind": target.kind,
        "state": line.state, "reason": line.reason, "since": line.since,
        "interval_seconds": target.interval_seconds, "timeout_seconds": target.timeout_seconds,
        "last": None if last is None else {
            "success": last.success, "reason": last.reason, "message": last.message,
            "degraded": last.degraded, "duration_seconds": last.duration_seconds,
            "phases": dict(last.phases), "status_code": last.status_code,
            "cert_expiry_timestamp": last.cert_expiry_timestamp,
            "attempts": last.attempts,
            "started_at": last.started_at or None,
            "finished_at": finished_at(last)},
        "cert_expiry_timestamp": st.cert_expiry,
        "availability": None if slo is None else plain(slo_availability(slo)),
        "latency": latency,
        "steps": steps(last.steps if last is not None else ()),
        "store": {"ok": store_error is None, "error": store_error},
    }


def finished_at(result: ProbeResult) -> float | None:
    """When the result's probe ended: its start plus its duration, for a single attempt.

    A confirmed failure's ``started_at`` is its first attempt's and its duration the
    last attempt's, so their sum would fall short of the end by every earlier attempt:
    unknown (None), not a wrong time."""
    if not result.started_at or result.attempts != 1:
        return None
    return result.started_at + result.duration_seconds


def steps(results: Sequence[Any]) -> list[dict[str, Any]]:
    """A journey's steps as the CLI shows them (outcomes and timings, never a value)."""
    return [step_facts(s) for s in results]
