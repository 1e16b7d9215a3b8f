"""The built-in rules, each at its exact thresholds, with hysteresis, exclusions and
carry-over; pure, so every case is a plain call."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from alerts.config import DEFAULT_INHIBIT_RULES, RULE_NAMES, RulesConfig
from alerts.facts import (
    ChannelFacts,
    ConsistencyFacts,
    HealthFacts,
    RuleInputs,
    SloFacts,
    TargetFacts,
)
from alerts.model import Alert, AlertStatus, Signal
from alerts.rules import RULES, evaluate

NOW = 1_800_000_000.0
RULES_CFG = RulesConfig()  # after 3, resolve after 2, share 50%, warn 14d, late 5s


def target(name: str, channel: str = "app", **kw: object) -> TargetFacts:
    return TargetFacts(name=name, channel=channel, kind=str(kw.pop("kind", "http")),
                       **kw)  # type: ignore[arg-type]


def down(name: str, channel: str = "app", failures: int = 3, reason: str = "timeout",
         **kw: object) -> TargetFacts:
    return target(name, channel, consecutive_failures=failures, last_reason=reason,
                  failing_since=kw.pop("failing_since", NOW - 60), **kw)


def run(*targets: TargetFacts, rules: RulesConfig = RULES_CFG,
        previous: dict[str, Alert] | None = None, **inputs: object) -> list[Signal]:
    inputs.setdefault("targets", targets)
    ri = RuleInputs(now=NOW, **inputs)  # type: ignore[arg-type]
    return evaluate(ri, rules, previous or {})


def as_alert(s: Signal, status: AlertStatus = "firing") -> Alert:
    return Alert(fingerprint=s.fingerprint, labels=s.labels, annotations=s.annotations,
                 status=status, active_since=s.active_since, updated_at=NOW - 10)


def remember(signals: list[Signal], status: AlertStatus = "firing") -> dict[str, Alert]:
    return {s.fingerprint: as_alert(s, status) for s in signals}


def named(signals: list[Signal], alertname: str) -> list[Signal]:
    return [s for s in signals if s.label("alertname") == alertname]


def only(signals: list[Signal], alertname: str) -> Signal:
    found = named(signals, alertname)
    assert len(found) == 1, signals
    return found[0]


def ann(s: Signal) -> dict[str, str]:
    return dict(s.annotations)


def test_one_rule_function_per_configurable_rule_name() -> None:
    assert tuple(RULES) == RULE_NAMES


# --- target_down ----------------------------------------------------------------


def test_target_down_pending_below_the_threshold_and_firing_at_it() -> None:
    assert run(target("api")) == []
    pending = only(run(down("api", failures=2)), "TargetDown")
    assert not pending.firing
    firing = only(run(down("api", failures=3, failing_since=NOW - 90)), "TargetDown")
    assert firing.firing
    assert firing.active_since == NOW - 90
    assert dict(firing.labels) == {"alertname": "TargetDown", "channel": "app",
                                   "target": "api", "severity": "warning"}
    a = ann(firing)
    assert (a["reason"], a["probe"]) == ("timeout", "http")
    assert "failures" not in a  # changing with every probe, it would be a write per tick
    assert "api" in a["summary"]
    assert "\n" not in a["summary"]


def test_target_down_resolves_only_after_enough_successes() -> None:
    previous = remember(run(down("api")))
    one_ok = run(target("api", consecutive_successes=1, last_reason="timeout"),
                 previous=previous)
    assert only(one_ok, "TargetDown").firing  # 1 < resolve_after 2: still down
    assert run(target("api", consecutive_successes=2), previous=previous) == []
    # A new failure while recovering is still the same outage, with the same start.
    again = only(run(down("api", failures=1, failing_since=NOW - 5), previous=previous),
                 "TargetDown")
    assert again.firing
    assert again.active_since == NOW - 60


def test_hysteresis_applies_only_to_an_alert_that_was_firing() -> None:
    previous = remember(run(down("api", failures=2)), status="pending")
    assert run(target("api", consecutive_successes=1), previous=previous) == []


def test_a_firing_target_with_no_counted_result_since_a_restart_stays_as_it_was() -> None:
    first = only(run(down("api", last_detail="x")), "TargetDown")
    previous = remember([first])
    kept = only(run(target("api"), previous=previous), "TargetDown")
    assert (kept.labels, kept.annotations, kept.firing) == (
        first.labels, first.annotations, True)


def test_a_firing_alert_whose_labels_changed_is_another_alert() -> None:
    previous = remember(run(down("api")))
    relabelled = target("api", consecutive_successes=1, labels=(("severity", "page"),))
    assert run(relabelled, previous=previous) == []  # the old one resolves, none starts
    s = only(run(replace(relabelled, consecutive_failures=3, consecutive_successes=0,
                         failing_since=NOW - 1), previous=previous), "TargetDown")
    assert s.label("severity") == "page"
    assert s.active_since == NOW - 1  # its own start, not the old alert's


def test_excluded_targets_never_start_an_alert_and_keep_a_firing_one() -> None:
    assert run(down("gw", "branch", failures=9, excluded="service_hours")) == []
    pending_before = remember(run(down("gw", "branch", failures=1)), status="pending")
    assert run(down("gw", "branch", failures=1, excluded="maintenance:upgrade"),
               previous=pending_before) == []
    firing = only(run(down("gw", "branch")), "TargetDown")
    kept = only(run(target("gw", "branch", consecutive_successes=5, excluded="service_hours"),
                    previous=remember([firing])), "TargetDown")
    assert (kept.labels, kept.annotations, kept.firing, kept.active_since) == (
        firing.labels, firing.annotations, True, firing.active_since)


def test_target_severity_from_labels_and_reserved_labels_from_the_rule() -> None:
    labels = (("alertname", "Fake"), ("channel", "other"), ("receiver", "x"),
              ("severity", "page"), ("target", "other"), ("team", "branch-ops"))
    s = only(run(down("gw", "branch", labels=labels)), "TargetDown")
    assert dict(s.labels) == {"alertname": "TargetDown", "channel": "branch",
                              "target": "gw", "severity": "page", "team": "branch-ops"}


def test_detail_is_one_line_cut_on_a_word_boundary() -> None:
    detail = "connection reset by peer\nwhile reading " + "word " * 200
    a = ann(only(run(down("api", last_detail=detail)), "TargetDown"))
    assert len(a["detail"]) <= 300
    assert a["detail"].endswith("…")
    assert "\n" not in a["detail"]
    assert a["detail"][:-1].endswith("word")


# --- channel_down ---------------------------------------------------------------


def channel(name: str = "app", labels: tuple[tuple[str, str], ...] = ()) -> ChannelFacts:
    return ChannelFacts(name=name, labels=labels)


def test_channel_down_at_exactly_the_share() -> None:
    half = [down("a"), down("b"), target("c"), target("d")]
    s = only(run(*half, channels=[channel()]), "ChannelDown")
    assert s.firing
    assert dict(s.labels) == {"alertname": "ChannelDown", "channel": "app",
                              "severity": "page"}
    assert ann(s)["down"] == "2 of 4"
    assert named(run(down("a"), *half[2:], target("e"), channels=[channel()]),
                 "ChannelDown") == []
    # 3 of 10 against 30%: a ratio, not 0.3 * 10 (which is just above 3 in floats).
    tenth = [down(f"t{i}") for i in range(3)] + [target(f"u{i}") for i in range(7)]
    assert named(run(*tenth, rules=replace(RULES_CFG, channel_down_share=0.3)),
                 "ChannelDown")


def test_channel_down_needs_a_target_down_even_at_share_zero() -> None:
    assert named(run(target("a"), rules=replace(RULES_CFG, channel_down_share=0.0)),
                 "ChannelDown") == []


def test_channel_down_counts_hysteresis_and_skips_excluded_targets_not_down() -> None:
    previous = remember(run(down("a"), down("b")))
    recovering = target("a", consecutive_successes=1, last_reason="timeout")
    excluded = [down(f"x{i}", failures=9, excluded="service_hours") for i in range(4)]
    kept_down = target("b", excluded="service_hours", consecutive_successes=3)
    signals = run(recovering, kept_down, target("c"), target("d"), *excluded,
                  previous=previous)
    # a (recovering) and b (excluded but already down) are down; the x* are not counted.
    assert ann(only(signals, "ChannelDown"))["down"] == "2 of 4"


def test_channel_down_annotations_name_reasons_and_the_worst_targets() -> None:
    targets = [down(f"t{i:02}", reason="timeout", failing_since=NOW - 100 + i)
               for i in range(9)]
    targets += [down(f"r{i}", reason="connect_refused", failing_since=NOW - 50)
                for i in range(3)]
    ch = channel(labels=(("severity", "warning"), ("team", "app-ops")))
    s = only(run(*targets, channels=[ch]), "ChannelDown")
    a = ann(s)
    assert a["reasons"] == "timeout x9, connect_refused x3"
    assert a["targets"] == "t00, t01, t02, t03, t04, t05, t06, t07, t08, r0, and 2 more"
    assert s.label("severity") == "page"  # a channel label never downgrades an outage
    assert s.label("team") == "app-ops"
    assert s.active_since == NOW - 100


def test_channel_down_inhibits_its_targets_by_the_shared_channel_label() -> None:
    signals = run(down("a"), down("b"), channels=[channel()])
    rule = DEFAULT_INHIBIT_RULES[0]
    source = only(signals, "ChannelDown")
    targets = named(signals, "TargetDown")
    assert all(m.matches(dict(source.labels)) for m in rule.source)
    for t in targets:
        assert all(m.matches(dict(t.labels)) for m in rule.target)
        assert all(t.label(k) == source.label(k) for k in rule.equal)


def test_channel_down_still_works_with_target_down_disabled() -> None:
    rules = replace(RULES_CFG, disabled=frozenset({"target_down"}))
    signals = run(down("a"), target("b"), rules=rules)
    assert [s.label("alertname") for s in signals] == ["ChannelDown"]


# --- SLOs -----------------------------------------------------------------------


def slo(**kw: object) -> SloFacts:
    base: dict[str, object] = {
        "slo": "app", "channel": "app", "objective": 0.999,
        "burn_rates": {"5m": 14.8, "30m": 7.0, "1h": 15.24, "6h": 6.5, "2h": 3.2, "1d": 3.1},
        "sli": 0.99123, "budget_remaining_ratio": 0.37}
    base.update(kw)
    return SloFacts(**base)  # type: ignore[arg-type]


def test_burn_rate_one_alert_per_firing_severity() -> None:
    facts = slo(page=True, ticket=True, page_windows=("1h", "5m", "6h", "30m"),
                ticket_windows=("1d", "2h"), target="app-api", budget_remaining_ratio=-0.125)
    signals = named(run(slos=[facts]), "SloBurnRate")
    assert [s.label("severity") for s in signals] == ["page", "ticket"]
    page, ticket = signals
    assert dict(page.labels) == {"alertname": "SloBurnRate", "slo": "app", "channel": "app",
                                 "target": "app-api", "severity": "page"}
    a = ann(page)
    assert a["burn_rate"] == "15.2x over 1h, 14.8x over 5m"
    assert (a["sli"], a["objective"], a["budget_left"]) == ("99.12%", "99.9%", "-12.5%")
    assert ann(ticket)["burn_rate"] == "3.1x over 1d, 3.2x over 2h"
    # Only the slower page row fires: its own two windows are quoted.
    six = only(run(slos=[slo(page=True, page_windows=("6h", "30m"))]), "SloBurnRate")
    assert ann(six)["burn_rate"] == "6.5x over 6h, 7.0x over 30m"
    assert named(run(slos=[slo()]), "SloBurnRate") == []


def test_burn_rate_quotes_the_first_table_row_when_the_facts_do_not_say() -> None:
    a = ann(only(run(slos=[slo(page=True)]), "SloBurnRate"))
    assert a["burn_rate"] == "15.2x over 1h, 14.8x over 5m"
    assert a["budget_left"] == "37.0%"


def test_slo_labels_cannot_take_over_the_reserved_names() -> None:
    facts = slo(page=True, labels=(("slo", "x"), ("severity", "warning"), ("team", "t")))
    s = only(run(slos=[facts]), "SloBurnRate")
    assert (s.label("slo"), s.label("severity"), s.label("team")) == ("app", "page", "t")


def test_budget_exhausted_at_zero_and_below() -> None:
    for left, fires in ((0.001, False), (0.0, True), (-0.5, True), (None, False)):
        got = named(run(slos=[slo(budget_remaining_ratio=left)]), "ErrorBudgetExhausted")
        assert bool(got) is fires, left
    s = only(run(slos=[slo(budget_remaining_ratio=0.0)]), "ErrorBudgetExhausted")
    assert s.label("severity") == "ticket"
    assert ann(s)["budget_left"] == "0.0%"


def test_slo_alerts_are_carried_unchanged_while_slos_cannot_be_computed() -> None:
    before = run(down("a"), slos=[slo(page=True, budget_remaining_ratio=-0.1)])
    previous = remember(before)
    stale = named(before, "SloBurnRate")[0]
    previous[stale.fingerprint] = replace(previous[stale.fingerprint], status="pending")
    resolved = run(slos=[slo(slo="old", page=True)])[0]
    previous[resolved.fingerprint] = as_alert(resolved, "resolved")
    after = run(down("a"), slos=None, previous=previous)
    carried = [s for s in after if s.label("alertname") != "TargetDown"]
    assert sorted((s.labels, s.annotations, s.firing, s.active_since) for s in carried) == \
        sorted((s.labels, s.annotations, s.fingerprint != stale.fingerprint, s.active_since)
               for s in before if s.label("alertname") != "TargetDown")


# --- consistency ----------------------------------------------------------------


def check(**kw: object) -> ConsistencyFacts:
    base: dict[str, object] = {"channel": "app", "reference": "branch", "ratio": 0.984,
                               "objective": 0.99, "worst_field": "phone", "judged": 5000,
                               "at": NOW - 30, "labels": (("team", "app-ops"),)}
    base.update(kw)
    return ConsistencyFacts(**base)  # type: ignore[arg-type]


def test_consistency_below_objective() -> None:
    s = only(run(consistency=[check()]), "ConsistencyBelowObjective")
    assert dict(s.labels) == {"alertname": "ConsistencyBelowObjective", "channel": "app",
                              "reference": "branch", "severity": "ticket", "team": "app-ops",
                              "dataset": "customers"}
    assert ann(s) == ann(s) | {"ratio": "98.40%", "objective": "99%", "field": "phone",
                               "judged": "5000"}
    assert s.active_since == NOW - 30
    assert run(consistency=[check(ratio=0.99)]) == []
    assert run(consistency=[check(ratio=None)]) == []


def test_a_failing_check_is_its_own_alert_and_keeps_the_last_verdict() -> None:
    previous = remember(run(consistency=[check()]))
    failing = check(ratio=None, error="source app: connection refused", judged=0)
    signals = run(consistency=[failing], previous=previous)
    f = only(signals, "ConsistencyCheckFailing")
    assert f.label("severity") == "warning"
    assert ann(f)["error"] == "source app: connection refused"
    kept = only(signals, "ConsistencyBelowObjective")
    assert kept.annotations == next(iter(previous.values())).annotations
    assert named(run(consistency=[failing]), "ConsistencyBelowObjective") == []


# --- cert_expiry ----------------------------------------------------------------


def test_certificate_expiring_and_expired_at_the_boundaries() -> None:
    warn = RULES_CFG.cert_warn_before_seconds
    assert run(target("web", cert_expiry=NOW + warn + 1)) == []
    s = only(run(target("web", cert_expiry=NOW + warn)), "CertificateExpiring")
    assert s.label("severity") == "ticket"
    assert s.active_since == NOW
    s = only(run(target("web", cert_expiry=NOW + 1)), "CertificateExpiring")
    s = only(run(target("web", cert_expiry=NOW)), "CertificateExpired")
    assert s.label("severity") == "page"
    assert s.active_since == NOW


def test_certificate_annotations_and_severity_from_the_rule() -> None:
    expiry = NOW + 13 * 86400 + 4 * 3600 + 59
    t = target("web", cert_expiry=expiry, labels=(("severity", "warning"),),
               excluded="maintenance:upgrade")
    s = only(run(t), "CertificateExpiring")  # excluded targets included
    assert s.label("severity") == "ticket"
    assert ann(s)["expires_in"] == "13d 4h"
    assert ann(s)["expires_at"] == "2027-01-28T12:00:59Z"
    assert s.label("target") == "web"
    assert s.label("channel") == "app"
    gone = only(run(target("web", cert_expiry=NOW - 7200)), "CertificateExpired")
    assert ann(gone)["expires_in"] == "expired 2h 0m ago"


# --- self_health ----------------------------------------------------------------


def test_probes_late_at_the_threshold_and_on_skipped_runs() -> None:
    assert run(health=HealthFacts(probe_lateness_seconds=5.0)) == []
    s = only(run(health=HealthFacts(probe_lateness_seconds=5.01)), "ProbesLate")
    assert dict(s.labels) == {"alertname": "ProbesLate", "severity": "warning",
                              "component": "omniwatch"}
    assert ann(s)["lateness"] == "5.0s"
    s = only(run(health=HealthFacts(skipped_runs=2)), "ProbesLate")
    assert (ann(s)["skipped"], ann(s)["lateness"]) == ("2", "n/a")


def test_store_and_notification_failures() -> None:
    h = HealthFacts(store_error="connection", store_failing_since=NOW - 120,
                    failing_receivers={"default/slack": "invalid_auth",
                                       "branch/webhook": "http_410"})
    signals = run(health=h)
    store = only(signals, "StoreWritesFailing")
    assert store.label("error") == "connection"
    assert store.active_since == NOW - 120
    notes = named(signals, "NotificationsFailing")
    assert [(s.label("receiver"), ann(s)["error"]) for s in notes] == [
        ("branch/webhook", "http_410"), ("default/slack", "invalid_auth")]
    assert all(s.label("component") == "omniwatch" for s in signals)


# --- the whole evaluation -------------------------------------------------------


def busy_inputs() -> dict[str, object]:
    long_name = "very-long-target-name-" * 8
    targets = [down(f"{long_name}{i}", last_detail="x" * 900) for i in range(40)]
    targets += [target(f"ok{i}", cert_expiry=NOW + 86400) for i in range(10)]
    return {
        "targets": targets, "channels": [channel()],
        "slos": [slo(page=True, ticket=True, budget_remaining_ratio=-1.0)],
        "consistency": [check(), check(channel="web", ratio=None, error="e " * 400)],
        "health": HealthFacts(probe_lateness_seconds=9.0, store_error="timeout",
                              failing_receivers={"r": "invalid_auth"})}


def test_every_rule_disabled_is_silent() -> None:
    inputs = busy_inputs()
    for name in RULE_NAMES:
        rules = replace(RULES_CFG, disabled=frozenset({name}))
        got = {s.label("alertname") for s in run(rules=rules, **inputs)}  # type: ignore[arg-type]
        everything = {s.label("alertname") for s in run(**inputs)}  # type: ignore[arg-type]
        assert got < everything, name
    assert run(rules=replace(RULES_CFG, disabled=frozenset(RULE_NAMES)), **inputs) == []  # type: ignore[arg-type]


def test_no_annotation_passes_300_characters_and_all_have_name_and_severity() -> None:
    signals = run(**busy_inputs())  # type: ignore[arg-type]
    assert len({s.label("alertname") for s in signals}) == 10
    for s in signals:
        assert s.label("alertname")
        assert s.label("severity")
        assert "summary" in dict(s.annotations)
        for _, value in s.annotations:
            assert len(value) <= 300
            assert "\n" not in value
    targets = ann(only(signals, "ChannelDown"))["targets"]
    assert targets.endswith(" more")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_order_is_deterministic_whatever_the_input_order(seed: int) -> None:
    inputs = busy_inputs()
    expected = run(**inputs)  # type: ignore[arg-type]
    shuffled = dict(inputs)
    for key in ("targets", "consistency"):
        items = list(inputs[key])  # type: ignore[call-overload]
        random.Random(seed).shuffle(items)
        shuffled[key] = items
    assert run(**shuffled) == expected  # type: ignore[arg-type]
    order = [RULE_NAMES.index(_rule_of(s)) for s in expected]
    assert order == sorted(order)


def _rule_of(s: Signal) -> str:
    name = s.label("alertname")
    return {"TargetDown": "target_down", "ChannelDown": "channel_down",
            "SloBurnRate": "burn_rate", "ErrorBudgetExhausted": "budget_exhausted",
            "CertificateExpiring": "cert_expiry", "CertificateExpired": "cert_expiry",
            "ProbesLate": "self_health", "StoreWritesFailing": "self_health",
            "NotificationsFailing": "self_health"}.get(name, "consistency")


def test_a_firing_target_down_keeps_its_annotations_while_it_stays_down() -> None:
    # Stable annotations: the engine writes an alert whose annotations changed, so a
    # count in them would rewrite every down target at every evaluation.
    first = only(run(down("api", failures=3, failing_since=NOW - 90)), "TargetDown")
    later = only(run(down("api", failures=9, failing_since=NOW - 90)), "TargetDown")
    assert first.annotations == later.annotations


def test_consistency_alerts_are_per_dataset() -> None:
    got = [s for s in run(consistency=[check(), check(dataset="accounts")])
           if s.label("alertname") == "ConsistencyBelowObjective"]
    assert sorted(s.label("dataset") for s in got) == ["accounts", "customers"]
    assert "of accounts records" in dict(got[0].annotations)["summary"]


def test_consistency_alerts_stand_until_the_first_check_after_a_restart_reports() -> None:
    below = only(run(consistency=[check()]), "ConsistencyBelowObjective")
    previous = remember([below])
    # After a restart no check has reported yet: the verdict stands, it is not resolved.
    kept = only(run(consistency=[], consistency_awaited=(("customers", "app", "branch"),),
                    previous=previous), "ConsistencyBelowObjective")
    assert (kept.labels, kept.annotations, kept.firing) == (
        below.labels, below.annotations, below.firing)
    # A channel no longer checked is not awaited: its alert resolves.
    assert run(consistency=[], previous=previous) == []
