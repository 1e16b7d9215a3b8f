"""The ``browser`` probe (issue 10): being written; see monitor.config.model for its spec."""

from __future__ import annotations

from monitor.config.model import Target
from probes.context import ProbeContext
from probes.result import ProbeResult


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    raise NotImplementedError("browser probe: issue 10 in progress")
