"""The outcome of one probe: failures are data, never exceptions.

A probe returns exactly one :class:`ProbeResult` for every attempt, whatever the
target did.  Only bugs in omniwatch itself raise.
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
)

# Phases a probe may report, in the order they happen.
PHASES: Final = ("dns", "connect", "tls", "first_byte", "transfer")


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
        details: small kind-specific facts (resolved address, DNS answers, redirects).
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
