"""The adapter from monitor state to the rules' facts, on real configuration objects,
probe state, SLO statuses and consistency reports, then through the real rules."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

from alerts.config import RulesConfig
from alerts.facts import HealthFacts, RuleInputs
from alerts.model import Alert
from alerts.rules import evaluate
from monitor.config.model import Channel, Config, MaintenanceConfig, SloConfig, Target, TcpSpec
from monitor.consistency.model import ConsistencyReport, Outcome
from monitor.metrics.state import ProbeState
from monitor.runtime.alert_facts import FactsCache, rule_inputs
from monitor.slo.bindings import exclusions, slo_bindings
from monitor.slo.budget import Counts, SloSpec, SloStatus, evaluate_objective
from monitor.slo.budget import evaluate as evaluate_slo
from probes.result import ProbeResult

NOW = 1_800_000_000.0


def tcp(name: str, channel: str, **kw: object) -> Target:
    return Target(name=name, channel=channel, kind="tcp", spec=TcpSpec("127.0.0.1", 9),
                  **kw)  # type: ignore[arg-type]


def config(**kw: object) -> Config:
    branch = Channel(
        name="branch", labels=(("severity", "warning"), ("team", "branch-ops")),
        targets=(tcp("core-gateway", "branch", labels=(("severity", "page"),),
                     slo=SloConfig(objective=0.99)),
                 tcp("teller", "branch")),
        slo=SloConfig(latency_objective=0.95))
    app = Channel(name="app", targets=(tcp("app-api", "app"),))
    return Config(channels=(branch, app), **kw)  # type: ignore[arg-type]


def fail(at: float, reason: str = "connect_refused") -> ProbeResult:
    return ProbeResult(success=False, reason=reason, duration_seconds=0.001,
                       message="connection refused", started_at=at,
                       cert_expiry_timestamp=None)


def ok(at: float, cert: float | None = None) -> ProbeResult:
    return ProbeResult(success=True, reason="ok", duration_seconds=0.001, started_at=at,
                       cert_expiry_timestamp=cert)


def inputs(cfg: Config, state: ProbeState, **kw: object) -> RuleInputs:
    args: dict[str, object] = {"now": NOW, "slo_statuses": (), "consistency": {},
                               "health": HealthFacts(), "excluded": exclusions(cfg).reason}
    args.update(kw)
    return rule_inputs(cfg, state, **args)  # type: ignore[arg-type]


def test_targets_carry_counters_reasons_and_overlaid_labels() -> None:
    cfg = config()
    state = ProbeState()
    for i in range(3):
        state.observe("branch", "core-gateway", "tcp", fail(NOW - 30 + i * 10))
    state.observe("app", "app-api", "tcp", ok(NOW - 5, cert=NOW + 86400))
    got = inputs(cfg, state)
    assert [t.name for t in got.targets] == ["core-gateway", "teller", "app-api"]
    gw, teller, api = got.targets
    assert gw.labels == (("severity", "page"), ("team", "branch-ops"))  # the target's wins
    assert (gw.consecutive_failures, gw.failing_since, gw.last_reason, gw.last_detail) == (
        3, NOW - 30, "connect_refused", "connection refused")
    assert gw.last_at == NOW - 10
    assert gw.excluded is None
    assert (teller.consecutive_failures, teller.last_at, teller.labels) == (
        0, None, (("severity", "warning"), ("team", "branch-ops")))
    assert (api.consecutive_successes, api.cert_expiry, api.labels) == (1, NOW + 86400, ())
    assert [(c.name, c.labels, c.targets) for c in got.channels] == [
        ("branch", (("severity", "warning"), ("team", "branch-ops")),
         ("core-gateway", "teller")),
        ("app", (), ("app-api",))]


def test_a_target_in_maintenance_now_is_excluded_before_its_next_result() -> None:
    cfg = config(maintenance=(MaintenanceConfig("upgrade", start=NOW - 1, end=NOW + 3600,
                                                targets=frozenset({"teller"})),))
    state = ProbeState()
    state.observe("branch", "teller", "tcp", fail(NOW - 100))  # counted: before the window
    got = inputs(cfg, state)
    by_name = {t.name: t for t in got.targets}
    assert by_name["teller"].excluded == "maintenance:upgrade"
    assert by_name["teller"].consecutive_failures == 1
    assert by_name["core-gateway"].excluded is None


def test_state_of_a_target_moved_to_another_channel_is_not_used() -> None:
    state = ProbeState()
    for i in range(5):
        state.observe("old", "teller", "tcp", fail(NOW - i))
    teller = next(t for t in inputs(config(), state).targets if t.name == "teller")
    assert teller.consecutive_failures == 0


def burning(spec_name: str, cfg: Config, bad_ratio: float) -> SloStatus:
    binding = next(b for b in slo_bindings(cfg) if b.spec.name == spec_name)
    total = 10_000
    counts = {w: Counts(good=int(total * (1 - bad_ratio)), total=total,
                        degraded=int(total * (1 - bad_ratio)))
              for w in binding.spec.windows}
    return evaluate_slo(binding.spec, counts, NOW)


def test_slo_facts_per_objective_with_the_firing_rows() -> None:
    cfg = config()
    branch = burning("branch", cfg, 0.02)  # 20x a 99.9% budget: both page rows, tickets
    gateway = burning("target:core-gateway", cfg, 0.0)
    got = inputs(cfg, ProbeState(), slo_statuses=[branch, gateway])
    assert got.slos is not None
    names = [s.slo for s in got.slos]
    assert names == ["branch", "branch-latency", "target:core-gateway"]
    avail, latency, gw = got.slos
    assert (avail.channel, avail.target, avail.objective) == ("branch", None, 0.999)
    assert (avail.page, avail.ticket) == (True, True)
    assert avail.page_windows == ("1h", "5m", "6h", "30m")
    assert avail.ticket_windows == ("1d", "2h", "3d", "6h")
    assert avail.burn_rates["1h"] is not None
    assert abs(avail.burn_rates["1h"] - 20.0) < 1e-6
    assert avail.sli is not None
    assert abs(avail.sli - 0.98) < 1e-9
    assert avail.budget_remaining_ratio is not None
    assert avail.budget_remaining_ratio < 0
    assert avail.labels == (("severity", "warning"), ("team", "branch-ops"))
    # Every success is degraded, so the latency objective burns at 100%/5% = 20x.
    assert (latency.objective, latency.page) == (0.95, True)
    assert (gw.channel, gw.target, gw.objective, gw.page, gw.ticket) == (
        "branch", "core-gateway", 0.99, False, False)
    assert gw.labels == (("severity", "page"), ("team", "branch-ops"))


def test_unknown_slos_are_dropped_and_none_means_not_computed() -> None:
    cfg = config()
    other = burning("branch", cfg, 0.0)
    stray = SloStatus(spec=SloSpec(name="gone"), now=NOW,
                      availability=evaluate_objective(0.999, other.spec, {}))
    got = inputs(cfg, ProbeState(), slo_statuses=[stray])
    assert got.slos == ()
    assert inputs(cfg, ProbeState(), slo_statuses=None).slos is None


def report(channel: str, **kw: object) -> ConsistencyReport:
    base: dict[str, object] = {
        "reference": "branch", "channel": channel, "mode": "full",
        "started_at": datetime.fromtimestamp(NOW - 60, UTC), "duration_seconds": 3.0,
        "objective": 0.99,
        "counts": MappingProxyType({Outcome.MATCH: 980, Outcome.MISMATCH: 15,
                                    Outcome.MISSING: 5, Outcome.PENDING_SYNC: 7}),
        "field_mismatches": MappingProxyType({"name": 4, "phone": 11, "risk_level": 11})}
    base.update(kw)
    return ConsistencyReport(**base)  # type: ignore[arg-type]


def test_consistency_facts_from_the_latest_reports() -> None:
    cfg = config()
    failed = report("web", error="source web: connection refused",
                    counts=MappingProxyType({}), field_mismatches=MappingProxyType({}))
    got = inputs(cfg, ProbeState(), consistency={
        ("customers", "web"): failed, ("customers", "app"): report("app"),
        ("accounts", "app"): report("app", dataset="accounts")})
    assert [(c.dataset, c.channel) for c in got.consistency] == [
        ("accounts", "app"), ("customers", "app"), ("customers", "web")]
    _, app, web = got.consistency
    assert (app.ratio, app.judged, app.worst_field, app.error) == (0.98, 1000, "phone", None)
    assert app.at == NOW - 60
    assert (web.ratio, web.judged, web.worst_field) == (None, 0, None)
    assert web.error == "source web: connection refused"


def test_rules_over_the_adapter_page_the_gateway_and_open_the_branch_outage() -> None:
    cfg = config()
    state = ProbeState()
    for i in range(3):
        state.observe("branch", "core-gateway", "tcp", fail(NOW - 30 + i * 10))
    state.observe("branch", "teller", "tcp", ok(NOW - 5))
    rules = RulesConfig()
    signals = evaluate(inputs(cfg, state), rules, {})
    got = {s.label("alertname"): s for s in signals}
    assert set(got) == {"TargetDown", "ChannelDown"}
    assert dict(got["TargetDown"].labels) == {
        "alertname": "TargetDown", "channel": "branch", "target": "core-gateway",
        "severity": "page", "team": "branch-ops"}
    assert got["TargetDown"].active_since == NOW - 30
    assert dict(got["ChannelDown"].annotations)["down"] == "1 of 2"
    # Service hours close the branch: the gateway's alert, already firing, stays so.
    previous = {s.fingerprint: Alert(s.fingerprint, s.labels, s.annotations, "firing",
                                     s.active_since, NOW) for s in signals}
    closed = config(maintenance=(MaintenanceConfig("night", start=NOW, end=NOW + 3600,
                                                   channels=frozenset({"branch"})),))
    again = evaluate(inputs(closed, state), rules, previous)
    assert {s.label("alertname") for s in again} == {"TargetDown", "ChannelDown"}
    assert all(s.firing for s in again)


def test_a_cache_hands_out_the_same_facts_until_the_target_changes() -> None:
    cfg = config()
    state = ProbeState()
    state.observe("branch", "core-gateway", "tcp", fail(NOW - 10))
    cache = FactsCache()
    first = inputs(cfg, state, cache=cache)
    assert first == inputs(cfg, state)  # the same facts as without a cache
    again = inputs(cfg, state, cache=cache)
    assert all(a is b for a, b in zip(first.targets, again.targets, strict=True))
    assert again.channels is first.channels
    # A new result, an exclusion beginning, another config: new facts for those only.
    state.observe("branch", "core-gateway", "tcp", fail(NOW - 5))
    probed = inputs(cfg, state, cache=cache)
    assert probed == inputs(cfg, state)
    assert [a is b for a, b in zip(again.targets, probed.targets, strict=True)] == [
        False, True, True]
    assert probed.targets[0].consecutive_failures == 2
    closed = config(maintenance=(MaintenanceConfig("night", start=NOW, end=NOW + 3600,
                                                   channels=frozenset({"app"})),))
    moved = inputs(closed, state, cache=cache, excluded=exclusions(closed).reason)
    assert moved == inputs(closed, state)
    assert moved.targets[2].excluded == "maintenance:night"
    assert moved.targets[0] is not probed.targets[0]  # another config starts afresh
    assert inputs(closed, state, cache=cache).targets[0] is moved.targets[0]
    # A reload that re-homes a target (new state object) is not mistaken for the old one.
    state.ensure("branch", "teller", "http")
    assert inputs(closed, state, cache=cache) == inputs(closed, state)


def test_a_cache_keeps_slo_facts_while_the_statuses_are_the_same_object() -> None:
    cfg = config()
    statuses = [burning("branch", cfg, 0.02)]
    cache = FactsCache()
    first = inputs(cfg, ProbeState(), slo_statuses=statuses, cache=cache)
    assert first.slos == inputs(cfg, ProbeState(), slo_statuses=statuses).slos
    assert inputs(cfg, ProbeState(), slo_statuses=statuses, cache=cache).slos is first.slos
    other = [burning("branch", cfg, 0.0)]
    assert inputs(cfg, ProbeState(), slo_statuses=other, cache=cache).slos != first.slos
