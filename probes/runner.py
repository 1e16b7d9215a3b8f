"""Run one target's probe: the confirm loop and a last-resort timeout guard."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

from monitor.config.model import Target
from probes.context import ProbeContext
from probes.result import REASON_PROTOCOL, REASON_TIMEOUT, NotRun, ProbeResult, failure

log = logging.getLogger("omniwatch.probe")

# A probe enforces its own timeout; this margin only catches a probe that does not.
_GUARD_MARGIN_SECONDS = 1.0


async def _attempt(probe_fn: object, target: Target, ctx: ProbeContext) -> ProbeResult:
    start = time.perf_counter()
    try:
        # asyncio.timeout, not wait_for: wait_for wraps the probe in a second task, which
        # at thousands of probes a second is measurable CPU.
        async with asyncio.timeout(target.timeout_seconds + _GUARD_MARGIN_SECONDS):
            result: ProbeResult = await probe_fn(target, ctx)  # type: ignore[operator]
            return result
    except TimeoutError:
        return failure(REASON_TIMEOUT, f"no answer within {target.timeout_seconds:g}s",
                       time.perf_counter() - start)
    except NotRun:
        raise  # not a result, and not a bug: the caller counts a skipped run
    except Exception as exc:  # a bug in a probe must not take the monitor down
        log.exception("probe_bug", extra={"target": target.name})
        return failure(REASON_PROTOCOL, f"internal error: {type(exc).__name__}",
                       time.perf_counter() - start)


async def run_target(target: Target, ctx: ProbeContext, probe_fn: object) -> ProbeResult:
    """Probe ``target``; re-attempt a failure up to ``target.confirm`` times at once.

    The returned result is the last attempt's, with ``attempts`` set to the raw number of
    attempts made and ``started_at`` to when the first began.  Raises
    :class:`~probes.result.NotRun` when the first attempt could not run; a confirmation
    that could not run ends the series with the failure already seen (the target did fail).
    """
    started_at = time.time()
    attempts = 0
    result: ProbeResult | None = None
    while True:
        try:
            result = await _attempt(probe_fn, target, ctx)
        except NotRun:
            if result is None:
                raise
            return dataclasses.replace(result, attempts=attempts, started_at=started_at)
        attempts += 1
        if result.success or attempts > target.confirm:
            if result.attempts == attempts and result.started_at == started_at:
                return result
            return dataclasses.replace(result, attempts=attempts, started_at=started_at)
