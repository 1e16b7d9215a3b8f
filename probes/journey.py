"""The ``journey`` probe: a customer's path through an API, step by step, on one client.

The steps of a :class:`~monitor.config.model.JourneySpec` run in order on one
:class:`~probes._journey_client.JourneyClient` (cookies carried, keep-alive connections
reused per origin; a fresh jar and no connection for each run, all closed at the end).
Each step is an http request with the http probe's expectations, then its ``extract``
rules (:mod:`probes._journey_step`); ``{{ name }}`` placeholders are filled from the
journey's ``vars`` and what earlier steps extracted.

Deadline: ``target.timeout_seconds`` bounds the whole run, ``finally`` steps included.
When there are ``finally`` steps the main steps must end 25% of the timeout earlier, so
that a hung step still leaves cancel and logout their time.  A step that hits its
deadline fails with ``timeout``, the message naming the stage as the http probe's does,
and the time that step had (from its start to its deadline).  Anything else a step
raises (a bug, or a response no check foresaw) fails that step with ``protocol``
("internal error: ValueError"), is logged once with its traceback (not its text, which
may quote the response), and the ``finally`` steps still run.

The result:

* ``steps``: a :class:`~probes.result.StepResult` per main step (those after the first
  failure are ``skipped``), then per ``finally`` step (``final``).  A ``finally`` step
  that needs a variable no step extracted is skipped; after a main failure that is
  expected, otherwise it is a failure (``extract_failed``).
* ``reason``, ``message`` (``step NAME: ...``), ``status_code`` and ``details["step"]``
  are the first failing main step's; when every main step succeeded, the first failing
  ``finally`` step's; on success ``status_code`` is the last main step's.
* ``duration_seconds`` is the wall time of the whole run; ``phases`` the sums over the
  steps (a reused connection adds no dns, connect or tls); ``cert_expiry_timestamp`` the
  earliest certificate seen; ``degraded`` a success slower than ``latency_seconds`` or
  with a step slower than its own ``expect.latency``.

Variables, extracted values, bodies and header values are secrets: no message, log or
exception here carries one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from monitor.config.model import JourneySpec, JourneyStep, Target
from probes._http_client import Timeline
from probes._http_errors import ProtocolError, classify, os_reason
from probes._journey_client import JourneyClient
from probes._journey_plan import StepPlan
from probes._journey_step import run_step
from probes._x509 import not_after_timestamp
from probes.context import ProbeContext
from probes.result import (
    PHASES,
    REASON_EXTRACT,
    REASON_OK,
    REASON_PROTOCOL,
    REASON_TIMEOUT,
    REASON_TLS,
    ProbeResult,
    StepResult,
)

log = logging.getLogger("omniwatch.probe")

# Share of the timeout kept for ``finally`` steps after the main steps' deadline.
FINALLY_RESERVE_RATIO = 0.25
SKIPPED = "skipped"


class StepBug(Exception):
    """Logged in place of what a step raised: its type name and traceback, no text."""


@dataclass(slots=True)
class _Run:
    """What one journey run has gathered so far."""

    target: str  # its name, for the log
    values: dict[str, str]
    client: JourneyClient
    steps: list[StepResult] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    certs: set[bytes] = field(default_factory=set)


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Run the journey ``target`` once; never raises for what the target does."""
    spec = target.spec
    if not isinstance(spec, JourneySpec):
        raise TypeError(f"journey probe given a {type(spec).__name__}")
    plan = ctx.journey_plans.get(spec)  # before the clock: built once per spec
    for step in (*spec.steps, *spec.finally_steps):
        # A first TLS context costs ~50 ms (the system CA store): omniwatch's cost, not the
        # target's, so it is built before the clock as the http probe does.  A file that
        # cannot be loaded is reported by the step that needs it.
        with contextlib.suppress(OSError):
            ctx.ssl_contexts.get(step.request.tls)
    loop = asyncio.get_running_loop()
    timeout = target.timeout_seconds
    reserve = timeout * FINALLY_RESERVE_RATIO if spec.finally_steps else 0.0
    started_at = time.time()
    start = time.perf_counter()
    deadline = loop.time() + timeout
    run = _Run(target.name, dict(spec.vars), JourneyClient(loop))
    try:
        failed: StepResult | None = None
        for step, step_plan in zip(spec.steps, plan.steps, strict=True):
            if failed is not None:
                run.steps.append(StepResult(step.name, False, SKIPPED, 0.0, skipped=True))
                continue
            result = await _step(step, step_plan, run, ctx, deadline - reserve,
                                 final=False, after_failure=False)
            run.steps.append(result)
            if not result.success:
                failed = result
        main_failed = failed is not None
        last_main = run.steps[-1] if run.steps else None
        for step, step_plan in zip(spec.finally_steps, plan.finally_steps, strict=True):
            result = await _step(step, step_plan, run, ctx, deadline,
                                 final=True, after_failure=main_failed)
            run.steps.append(result)
            if failed is None and not result.success:  # only when every main step passed
                failed = result
    finally:
        run.client.close()
    duration = time.perf_counter() - start
    return _result(spec, run, failed, last_main, duration, started_at)


async def _step(step: JourneyStep, plan: StepPlan, run: _Run, ctx: ProbeContext,
                deadline: float, *, final: bool, after_failure: bool) -> StepResult:
    missing = [name for name in plan.needs if name not in run.values]
    if missing:
        message = f"needs {missing[0]}, which no step extracted"
        if after_failure:
            return StepResult(step.name, False, SKIPPED, 0.0, message, final=final,
                              skipped=True)
        return StepResult(step.name, False, REASON_EXTRACT, 0.0, message, final=final,
                          skipped=final)
    try:
        ssl_context = ctx.ssl_contexts.get(step.request.tls)
    except OSError as exc:  # ssl.SSLError included: a missing or unreadable CA/cert file
        return StepResult(step.name, False, REASON_TLS,
                          0.0, f"cannot load TLS files: {os_reason(exc)}", final=final)
    start = time.perf_counter()
    had = deadline - asyncio.get_running_loop().time()  # this step's time, for the message
    timeline = Timeline(start)
    status: int | None = None
    try:
        async with asyncio.timeout_at(deadline):
            outcome = await run_step(run.client, step, plan, run.values, ssl_context,
                                     timeline, start)
        reason, message = outcome.reason, outcome.message
        duration, status = outcome.duration_seconds, outcome.status_code
    except TimeoutError:
        reason = REASON_TIMEOUT
        message = f"no answer within {_seconds(had)}s ({timeline.stage})"
        duration = time.perf_counter() - start
    except (OSError, ProtocolError) as exc:
        reason, message = classify(exc, timeline.stage, timeline.hop)
        duration = time.perf_counter() - start
    except Exception as exc:  # one step's bug (or unforeseen response) ends that step only
        # The traceback without the exception's text, which may quote the response
        # ("year 99999 is out of range"): where it broke is what helps, never a value.
        bug = StepBug(type(exc).__name__).with_traceback(exc.__traceback__)
        log.error("journey_step_bug", exc_info=bug,
                  extra={"target": run.target, "step": step.name})
        reason, message = REASON_PROTOCOL, f"internal error: {type(exc).__name__}"
        duration = time.perf_counter() - start
    for phase, seconds in timeline.phases.items():
        run.phases[phase] += seconds
    if timeline.cert_der:
        run.certs.add(timeline.cert_der)
    return StepResult(step.name, reason == REASON_OK, reason, duration, message,
                      status_code=status, final=final)


def _seconds(seconds: float) -> str:
    """``seconds`` for a message: tenths from 1 s up (``1.4``), hundredths below (``0.75``)."""
    seconds = max(seconds, 0.0)
    return f"{round(seconds, 1 if seconds >= 1 else 2):g}"


def _slow(spec: JourneySpec, steps: list[StepResult], duration: float) -> bool:
    if spec.latency_seconds is not None and duration > spec.latency_seconds:
        return True
    # ``steps`` holds one result per main step, then per finally step, in spec order.
    return any(
        (threshold := step.request.expect.latency_seconds) is not None
        and result.duration_seconds > threshold
        for step, result in zip((*spec.steps, *spec.finally_steps), steps, strict=True)
    )


def _result(spec: JourneySpec, run: _Run, failed: StepResult | None,
            last_main: StepResult | None, duration: float, started_at: float) -> ProbeResult:
    expiries = [not_after_timestamp(der) for der in run.certs]
    known = [e for e in expiries if e is not None]
    expiry = min(known) if known else None
    if failed is not None:
        return ProbeResult(
            success=False,
            reason=failed.reason,
            duration_seconds=duration,
            message=f"step {failed.name}: {failed.message}",
            phases=run.phases,
            status_code=failed.status_code,
            cert_expiry_timestamp=expiry,
            started_at=started_at,
            details={"step": failed.name},
            steps=tuple(run.steps),
        )
    return ProbeResult(
        success=True,
        reason=REASON_OK,
        duration_seconds=duration,
        degraded=_slow(spec, run.steps, duration),
        phases=run.phases,
        status_code=last_main.status_code if last_main else None,
        cert_expiry_timestamp=expiry,
        started_at=started_at,
        steps=tuple(run.steps),
    )
