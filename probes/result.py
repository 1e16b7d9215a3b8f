"""The outcome of one probe: failures are data, never exceptions.

A probe returns exactly one :class:`ProbeResult` for every attempt, whatever the
target did.  Only bugs in omniwatch itself raise, and :class:`NotRun`: omniwatch's own
capacity ran out before the probe could look at the target at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

# Stable failure reasons.  They are label values in ``omniwatch_probes_total`` and
# appear in alerts, so they are part of the user-facing contract: add, never rename.
REASON_OK: Final = "ok"
REASON_TIMEOUT: Final = "timeout"
REASON_DNS: Final = "dns"
REASON_CONNECT_REFUSED: Final = "connect_refused"
REASON_CONNECT_ERROR: Final = "connect_error"
REASON_TLS: Final = "tls"
REASON_HTTP_STATUS: Final = "http_status"
REASON_BODY_MISMATCH: Final = "body_mismatch"
REASON_SCHEMA_MISMATCH: Final = "schema_mismatch"
REASON_TOO_LARGE: Final = "too_large"
REASON_PROTOCOL: Final = "protocol"
# Journeys and browser checks (issue 10).
REASON_EXTRACT: Final = "extract_failed"  # a value to extract was not in the response
REASON_CONSOLE_ERROR: Final = "console_error"  # the page logged an error or threw
REASON_REQUEST_FAILED: Final = "request_failed"  # a sub-resource failed or answered >= 400
REASON_BROWSER: Final = "browser_error"  # the browser could not start or crashed

REASONS: Final = (
    REASON_OK,
    REASON_TIMEOUT,
    REASON_DNS,
    REASON_CONNECT_REFUSED,
    REASON_CONNECT_ERROR,
    REASON_TLS,
    REASON_HTTP_STATUS,
    REASON_BODY_MISMATCH,
    REASON_SCHEMA_MISMATCH,
    REASON_TOO_LARGE,
    REASON_PROTOCOL,
    REASON_EXTRACT,
    REASON_CONSOLE_ERROR,
    REASON_REQUEST_FAILED,
    REASON_BROWSER,
)

# Why a probe did not run (:class:`NotRun`): a label value of
# ``omniwatch_probe_runs_skipped_total``, never a result reason.
NOT_RUN_BROWSER_BUSY: Final = "browser_busy"  # no page slot (or browser) in time

# Phases a probe may report, in the order they happen.
PHASES: Final = ("dns", "connect", "tls", "first_byte", "transfer")


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step of a journey or browser check.

    Fields:
        name: the step's configured name.
        success: the step met its expectations.
        reason: ``"ok"`` or one of :data:`REASONS`; ``"skipped"`` with ``skipped`` set.
        duration_seconds: the step's wall time (0 when skipped).
        message: human detail (never a body, a header value or an extracted value).
        status_code: the HTTP status of the step's response, when there was one.
        final: a ``finally`` step.
        skipped: not run: an earlier step failed, or (a ``finally`` step) a variable it
            needs was never extracted.
    """

    name: str
    success: bool
    reason: str
    duration_seconds: float
    message: str = ""
    status_code: int | None = None
    final: bool = False
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one probe attempt (or a confirmed series of attempts) observed.

    Fields:
        success: the target met every expectation (a *degraded* result is a success).
        reason: ``"ok"`` on success, otherwise one of :data:`REASONS`.
        duration_seconds: wall time of the last attempt, from its first network step
            (DNS, else connect) to the last byte read or the failure; the probe's own
            setup (TLS context, imports) happens before this clock starts.
        degraded: a success slower than the target's latency threshold.
        message: human detail of the failure (never contains a secret or a body).
        phases: seconds spent per phase of the last attempt, keys from :data:`PHASES`.
        status_code: HTTP status of the final response, when there was one.
        cert_expiry_timestamp: ``notAfter`` of the leaf certificate (Unix seconds).
        attempts: raw attempts made, ``1 + confirmations`` for a confirmed failure.
        started_at: Unix time the first attempt started.
        details: small kind-specific facts (resolved address, DNS answers, redirects;
            ``step`` the failing step of a journey, ``screenshot`` a browser check's
            screenshot path).
        steps: a journey's or browser check's steps, in the order they ran (then
            ``finally`` steps), skipped ones included.
        measurements: a browser check's page timings, seconds unless said
            (``ttfb_seconds``, ``fcp_seconds``, ``lcp_seconds``, ``cls`` unitless,
            ``dom_content_loaded_seconds``, ``load_seconds``): those the page exposed.
    """

    success: bool
    reason: str
    duration_seconds: float
    degraded: bool = False
    message: str = ""
    phases: Mapping[str, float] = field(default_factory=dict)
    status_code: int | None = None
    cert_expiry_timestamp: float | None = None
    attempts: int = 1
    started_at: float = 0.0
    details: Mapping[str, str] = field(default_factory=dict)
    steps: tuple[StepResult, ...] = ()
    measurements: Mapping[str, float] = field(default_factory=dict)

    @property
    def result_label(self) -> str:
        """``success``, ``degraded`` or ``failure``: the ``result`` metric label."""
        if not self.success:
            return "failure"
        return "degraded" if self.degraded else "success"


def failure(reason: str, message: str, duration_seconds: float, **extra: object) -> ProbeResult:
    """Build a failed result; ``extra`` sets further :class:`ProbeResult` fields."""
    return ProbeResult(
        success=False,
        reason=reason,
        message=message,
        duration_seconds=duration_seconds,
        **extra,  # type: ignore[arg-type]
    )


class NotRun(Exception):
    """The probe never looked at the target: omniwatch's own capacity ran out first.

    Not a result: a failure would count against the target's SLO (and page someone) for
    omniwatch's own shortage.  The scheduled path counts it as a skipped run; ad-hoc
    probes say so.  ``reason`` is one of the ``NOT_RUN_*`` values, ``message`` says what
    was busy (``the browser's 2 page slots stayed busy``), never a secret.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
