"""Probes: one module per kind, one registry, one result type.

Every probe function has the same shape::

    async def probe(target: Target, ctx: ProbeContext) -> ProbeResult

It enforces ``target.timeout_seconds`` itself, classifies every failure with a stable
reason (see :mod:`probes.result`) and never raises for a down or hostile target.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from monitor.model import Target
from probes import dns, http, tcp, tls
from probes.context import ProbeContext
from probes.result import ProbeResult

ProbeFn = Callable[[Target, ProbeContext], Awaitable[ProbeResult]]

# The one place a probe kind is named.  Adding a kind: a module here, a line below,
# and its target shape in schemas/config.schema.json.
PROBES: dict[str, ProbeFn] = {
    "http": http.probe,
    "tcp": tcp.probe,
    "dns": dns.probe,
    "tls": tls.probe,
}

__all__ = ["PROBES", "ProbeContext", "ProbeFn", "ProbeResult"]
