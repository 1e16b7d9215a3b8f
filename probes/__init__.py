"""Probes: one module per kind, one registry, one result type.

Every probe function has the same shape::

    async def probe(target: Target, ctx: ProbeContext) -> ProbeResult

It enforces ``target.timeout_seconds`` itself, classifies every failure with a stable
reason (see :mod:`probes.result`) and never raises for a down or hostile target.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from monitor.config.model import Target
from probes import http, tcp, tls
from probes.context import ProbeContext
from probes.result import ProbeResult

ProbeFn = Callable[[Target, ProbeContext], Awaitable[ProbeResult]]


async def _dns(target: Target, ctx: ProbeContext) -> ProbeResult:
    # dnspython takes ~100 ms to import: only a monitor with dns targets pays for it,
    # never `omniwatch probe https://...` at 3 a.m.
    from probes import dns

    return await dns.probe(target, ctx)


async def _journey(target: Target, ctx: ProbeContext) -> ProbeResult:
    from probes import journey

    return await journey.probe(target, ctx)


async def _browser(target: Target, ctx: ProbeContext) -> ProbeResult:
    # Playwright is an optional extra (omniwatch[browser]) and heavy to import: only a
    # monitor with browser targets loads it.
    from probes import browser

    return await browser.probe(target, ctx)


# The one place a probe kind is named.  Adding a kind: a module here, a line below,
# and its target shape in schemas/config.schema.json.
PROBES: dict[str, ProbeFn] = {
    "http": http.probe,
    "tcp": tcp.probe,
    "dns": _dns,
    "tls": tls.probe,
    "journey": _journey,
    "browser": _browser,
}

__all__ = ["PROBES", "ProbeContext", "ProbeFn", "ProbeResult"]
