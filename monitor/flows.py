"""What may be shown of a journey's or browser check's steps: the CLI and ``/probe`` debug.

A step's facts are its name, outcome, timing, status code and the probe's own message,
which never holds a body, a header value, a variable or an extracted value (see
:class:`~probes.result.StepResult`).  The one configured text shown, a step's request
line, is the *template*: its placeholders stay ``{{ name }}``, URL user-info is dropped
and query values are masked (a ``${ENV}`` key resolved at load time may sit there), so
nothing secret, filled in at load or at run time, can appear.  Pure functions over results and
targets, shared by :mod:`monitor.cli` and :mod:`monitor.server`.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from monitor.config.model import BrowserSpec, JourneySpec, Target
from monitor.config.template import MASK, PLACEHOLDER, masked
from monitor.redact import without_userinfo
from probes.result import StepResult


def step_facts(step: StepResult) -> dict[str, object]:
    """One step as JSON-ready facts (the CLI's ``--json`` and ``/probe`` debug)."""
    return {"name": step.name, "success": step.success, "reason": step.reason,
            "duration_seconds": step.duration_seconds, "status_code": step.status_code,
            "message": step.message, "final": step.final, "skipped": step.skipped}


def shown_url(url: str) -> str:
    """``url`` for display: no user-info, no fragment, every query value masked unless it
    is a placeholder (``?api_key=***&token={{ token }}``)."""
    url = without_userinfo(url)
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all: show nothing of it that could be a value
        return MASK
    pairs = []
    for pair in parts.query.split("&") if parts.query else ():
        name, eq, value = pair.partition("=")
        keep = PLACEHOLDER.fullmatch(value.strip()) is not None
        pairs.append(f"{name}{eq}{masked(value) if keep else MASK}" if eq else name)
    return masked(urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(pairs), "")))


def step_requests(target: Target) -> dict[str, str]:
    """Step name → what the step does, as configured, for display.

    A journey step is ``METHOD url`` with the URL's placeholders kept as ``{{ name }}``
    (:func:`~monitor.config.template.masked`) and its user-info dropped; a browser step
    is its action and its URL or selector (a ``fill`` value is never shown).  Empty for
    a target that is not a flow.
    """
    spec = target.spec
    if isinstance(spec, JourneySpec):
        return {s.name: f"{s.request.method} {shown_url(s.request.url)}"
                for s in (*spec.steps, *spec.finally_steps)}
    if isinstance(spec, BrowserSpec):
        out = {}
        for b in spec.steps:
            where = (shown_url(b.url) if b.url is not None
                     else masked(b.selector) if b.selector is not None else None)
            out[b.name] = b.action if where is None else f"{b.action} {where}"
        return out
    return {}


def measurement_text(measurements: Mapping[str, float]) -> str:
    """``ttfb 120ms, fcp 300ms, lcp 450ms, cls 0.012`` for a browser check's timings."""
    parts = []
    for key, value in measurements.items():
        if key.endswith("_seconds"):
            parts.append(f"{key.removesuffix('_seconds')} {value * 1000:.0f}ms")
        else:
            parts.append(f"{key} {value:.3g}")
    return ", ".join(parts)
