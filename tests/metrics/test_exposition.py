"""The cached per-target exposition parses as Prometheus text and stays fresh."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.metrics.collectors import (
    ProcessInfoCollector,
    ReloadStatus,
    SchedulerCollector,
    build_registry,
)
from monitor.metrics.exposition import escape_label, fmt, render_targets
from monitor.metrics.state import ProbeState
from probes.result import ProbeResult


def _result(success: bool = True, **kw: object) -> ProbeResult:
    base: dict[str, object] = {
        "success": success, "reason": "ok" if success else "timeout",
        "duration_seconds": 0.2, "phases": {"dns": 0.0, "connect": 0.01},
        "started_at": 1_700_000_000.5}
    base.update(kw)
    return ProbeResult(**base)  # type: ignore[arg-type]


Key = tuple[str, frozenset[tuple[str, str]]]


def _samples(text: str) -> dict[Key, float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def k(name: str, *labels: tuple[str, str], **more: str) -> Key:
    return name, frozenset([*labels, *more.items()])


def test_render_parses_and_carries_every_family() -> None:
    state = ProbeState()
    state.observe("app", "app-api", "http", _result(status_code=200))
    state.observe("app", "app-api", "http", _result(False, attempts=3))
    state.observe("branch", "gw", "tls", _result(cert_expiry_timestamp=1.8e9, degraded=True))
    s = _samples(render_targets(state.targets.values()))
    app = (("channel", "app"), ("target", "app-api"))
    assert s[k("omniwatch_probe_success", *app)] == 0
    assert s[k("omniwatch_probes_total", *app, ("reason", "ok"), ("result", "success"))] == 1
    assert s[k("omniwatch_probes_total", *app, ("reason", "timeout"),
                                          ("result", "failure"))] == 1
    assert s[k("omniwatch_probe_attempts_total", *app)] == 4
    assert s[k("omniwatch_probe_duration_seconds_count", *app)] == 2
    assert s[k("omniwatch_probe_duration_seconds_bucket", *app, ("le", "0.25"))] == 2
    assert s[k("omniwatch_probe_duration_seconds_bucket", *app, ("le", "0.1"))] == 0
    assert s[k("omniwatch_probe_phase_seconds", *app, ("phase", "connect"))] == 0.01
    gw = (("channel", "branch"), ("target", "gw"))
    assert s[k("omniwatch_tls_cert_expiry_timestamp_seconds", *gw)] == 1.8e9
    assert s[k("omniwatch_probe_degraded", *gw)] == 1
    assert s[k("omniwatch_probes_total", *gw, ("reason", "ok"), ("result", "degraded"))] == 1
    # The last status code is only reported while the last probe had one.
    assert k("omniwatch_http_status_code", *app) not in s


def test_duration_buckets_resolve_lan_probes_and_the_800ms_threshold() -> None:
    state = ProbeState()
    for seconds in (0.0008, 0.002, 0.004, 0.7, 0.9):
        state.observe("branch", "gw", "tcp", _result(duration_seconds=seconds))
    s = _samples(render_targets(state.targets.values()))
    gw = (("channel", "branch"), ("target", "gw"))
    bounds = sorted(float(dict(labels)["le"]) for name, labels in s
                    if name == "omniwatch_probe_duration_seconds_bucket")
    assert bounds == [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0,
                      2.5, 5.0, float("inf")]

    def bucket(le: str) -> float:
        return s[k("omniwatch_probe_duration_seconds_bucket", *gw, ("le", le))]

    assert (bucket("0.001"), bucket("0.0025"), bucket("0.005")) == (1, 2, 3)
    assert (bucket("0.5"), bucket("0.8"), bucket("1.0")) == (3, 4, 5)


def test_full_body_has_standard_process_families() -> None:
    text = generate_latest(build_registry(process=True)).decode()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds",
            "process_start_time_seconds", "python_info"} <= names


def test_cache_is_invalidated_by_a_new_result() -> None:
    state = ProbeState()
    state.observe("app", "a", "http", _result())
    first = render_targets(state.targets.values())
    assert render_targets(state.targets.values()) == first
    state.observe("app", "a", "http", _result(False))
    assert 'omniwatch_probe_success{channel="app",target="a"} 0' in render_targets(
        state.targets.values())


def test_label_values_are_escaped() -> None:
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    state = ProbeState()
    state.observe('we"ird', "t\\1", "http", _result())
    s = _samples(render_targets(state.targets.values()))
    assert s[k("omniwatch_probe_success", channel='we"ird', target="t\\1")] == 1


def test_fmt() -> None:
    assert fmt(3.0) == "3"
    assert fmt(0.25) == "0.25"
    assert fmt(1_700_000_000.5) == "1700000000.5"


def test_full_body_has_process_families_once() -> None:
    state = ProbeState()
    state.observe("app", "a", "http", _result())
    state.lateness.observe(0.003)
    registry = build_registry(
        ProcessInfoCollector("9.9.9", ReloadStatus(success=False), lambda: {"app": 1}),
        SchedulerCollector(state))
    text = (generate_latest(registry) + render_targets(state.targets.values()).encode()).decode()
    names = [f.name for f in text_string_to_metric_families(text)]
    assert len(names) == len(set(names))
    s = _samples(text)
    assert s[k("omniwatch_config_last_reload_success")] == 0
    assert s[k("omniwatch_targets", channel="app")] == 1
    assert s[k("omniwatch_scheduler_lateness_seconds_count")] == 1
    build = [k for k in s if k[0] == "omniwatch_build_info"]
    assert ("version", "9.9.9") in build[0][1]


def test_excluded_probes_are_counted_apart() -> None:
    state = ProbeState()
    state.observe("branch", "core", "tcp", _result(False), excluded="service_hours")
    state.observe("branch", "core", "tcp", _result(False), excluded="maintenance:upgrade")
    state.observe("branch", "core", "tcp", _result())
    s = _samples(render_targets(state.targets.values()))
    core = (("channel", "branch"), ("target", "core"))
    assert s[k("omniwatch_probes_excluded_total", *core, reason="service_hours")] == 1
    assert s[k("omniwatch_probes_excluded_total", *core, reason="maintenance:upgrade")] == 1
    failures = [key for key in s if key[0] == "omniwatch_probes_total"
                and ("result", "failure") in key[1]]
    assert failures == []
    assert s[k("omniwatch_probe_success", *core)] == 1
