"""The consecutive-result counters the alert rules read: counted results only."""

from __future__ import annotations

from monitor.metrics.state import ProbeState
from probes.result import ProbeResult


def ok(at: float, *, degraded: bool = False, cert: float | None = None) -> ProbeResult:
    return ProbeResult(success=True, reason="ok", duration_seconds=0.01, degraded=degraded,
                       started_at=at, cert_expiry_timestamp=cert)


def fail(at: float, reason: str = "timeout", message: str = "timed out") -> ProbeResult:
    return ProbeResult(success=False, reason=reason, duration_seconds=5.0, message=message,
                       started_at=at)


def test_failures_count_up_and_remember_when_the_run_began() -> None:
    state = ProbeState()
    state.observe("app", "api", "http", ok(100.0))
    st = state.targets["api"]
    assert (st.consecutive_failures, st.consecutive_successes, st.failing_since) == (0, 1, None)
    state.observe("app", "api", "http", fail(110.0))
    state.observe("app", "api", "http", fail(120.0, "connect_refused", "refused"))
    assert (st.consecutive_failures, st.consecutive_successes) == (2, 0)
    assert st.failing_since == 110.0  # the first failure of the run, not the latest
    assert st.last_failure is not None
    assert st.last_failure.reason == "connect_refused"


def test_a_success_ends_the_run_and_a_degraded_one_counts_as_success() -> None:
    state = ProbeState()
    for t in (1.0, 2.0, 3.0):
        state.observe("app", "api", "http", fail(t))
    state.observe("app", "api", "http", ok(4.0, degraded=True))
    st = state.targets["api"]
    assert (st.consecutive_failures, st.consecutive_successes, st.failing_since) == (0, 1, None)
    # The reason of the run that just ended stays for a resolving alert's last word.
    assert st.last_failure is not None
    assert st.last_failure.started_at == 3.0
    state.observe("app", "api", "http", ok(5.0))
    assert st.consecutive_successes == 2
    state.observe("app", "api", "http", fail(6.0))
    assert (st.consecutive_failures, st.consecutive_successes, st.failing_since) == (1, 0, 6.0)


def test_excluded_results_leave_the_counters_unchanged() -> None:
    state = ProbeState()
    state.observe("branch", "gw", "tcp", fail(1.0))
    state.observe("branch", "gw", "tcp", fail(2.0), excluded="service_hours")
    state.observe("branch", "gw", "tcp", ok(3.0), excluded="maintenance:upgrade")
    st = state.targets["gw"]
    assert (st.consecutive_failures, st.consecutive_successes, st.failing_since) == (1, 0, 1.0)
    assert st.last_failure is not None
    assert st.last_failure.started_at == 1.0
    assert st.last is not None
    assert st.last.started_at == 3.0
    assert sum(st.excluded.values()) == 2
    assert sum(st.results.values()) == 1


def test_certificate_expiry_survives_a_result_without_a_certificate() -> None:
    state = ProbeState()
    state.observe("app", "web", "http", ok(1.0, cert=5000.0))
    state.observe("app", "web", "http", fail(2.0))
    assert state.targets["web"].cert_expiry == 5000.0
    state.observe("app", "web", "http", ok(3.0, cert=9000.0), excluded="service_hours")
    assert state.targets["web"].cert_expiry == 9000.0  # a renewal is news even when excluded


def test_since_is_when_the_latest_kind_of_result_began() -> None:
    state = ProbeState()
    state.observe("app", "api", "http", ok(1.0))
    st = state.targets["api"]
    state.observe("app", "api", "http", ok(2.0))
    assert st.since == 1.0
    state.observe("app", "api", "http", ok(3.0, degraded=True))
    state.observe("app", "api", "http", ok(4.0, degraded=True))
    assert st.since == 3.0  # degraded is a state of its own on the status page
    state.observe("app", "api", "http", fail(5.0))
    state.observe("app", "api", "http", fail(6.0), excluded="service_hours")
    assert st.since == 5.0
    state.observe("app", "api", "http", ok(7.0))
    assert st.since == 7.0
