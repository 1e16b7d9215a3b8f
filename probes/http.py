"""The ``http``  probe (placeholder until implemented)."""

from __future__ import annotations

import time

from monitor.model import Target
from probes.context import ProbeContext
from probes.result import REASON_PROTOCOL, ProbeResult, failure


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Not implemented yet: always a protocol failure."""
    return failure(REASON_PROTOCOL, "http probe not implemented", 0.0, started_at=time.time())
