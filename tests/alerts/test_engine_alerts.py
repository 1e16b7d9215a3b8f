"""Alert transitions: pending -> firing -> resolved, incarnations, and what a change is."""

from __future__ import annotations

from alerts.engine import step
from alerts.model import fingerprint
from alerts.store import EngineState
from tests.alerts.engine_support import Driver, config, fp, route, target

CFG = config(default=route("default", receivers=()))


def test_a_new_firing_signal_becomes_a_firing_alert_fired_now() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a", since=90.0, annotations={"reason": "timeout"}))
    a = d.alert(target("a"))
    assert a is not None
    assert (a.status, a.fired_at, a.resolved_at, a.active_since, a.updated_at) == (
        "firing", 100.0, None, 90.0, 100.0)
    assert a.fingerprint == fingerprint(a.labels)
    assert dict(a.annotations) == {"reason": "timeout"}


def test_a_new_signal_below_threshold_is_pending_and_not_fired() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a", firing=False))
    a = d.alert(target("a"))
    assert a is not None
    assert (a.status, a.fired_at, a.active_since) == ("pending", None, 100.0)


def test_pending_becomes_firing_when_its_signal_fires() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a", firing=False, since=95.0))
    d.tick(110.0, target("a", since=95.0))
    a = d.alert(target("a"))
    assert a is not None
    assert (a.status, a.fired_at, a.active_since, a.updated_at) == (
        "firing", 110.0, 95.0, 110.0)


def test_pending_that_clears_is_forgotten() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a", firing=False))
    d.tick(110.0)
    assert d.state.alerts == {}
    assert list(d.last.removed_alerts) == [fp(target("a"))]


def test_pending_stays_pending_and_unchanged_while_its_signal_does() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a", firing=False, since=100.0))
    before = d.alert(target("a"))
    d.tick(110.0, target("a", firing=False, since=100.0))
    assert d.alert(target("a")) is before
    assert not d.last


def test_firing_stays_firing_even_when_its_signal_says_pending() -> None:
    # Resolution is the rule's decision (it stops signalling), not a pending signal's.
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    d.tick(110.0, target("a", firing=False))
    a = d.alert(target("a"))
    assert a is not None
    assert (a.status, a.fired_at) == ("firing", 100.0)


def test_firing_without_signal_resolves_now() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    d.tick(110.0, target("a"))
    d.tick(120.0)
    # Never notified (the route has no receivers but still groups): the group had not
    # flushed yet, so nothing owes its resolution and the alert goes at once.
    assert d.state.alerts == {}
    assert list(d.last.removed_alerts) == [fp(target("a"))]
    assert list(d.last.removed_groups) == [("default", 'default:{alertname="TargetDown",'
                                                      'channel="branch"}')]


def test_resolved_alert_keeps_resolved_at_while_a_group_owes_its_notice() -> None:
    d = Driver(config())
    d.tick(100.0, target("a"))
    d.tick(130.0, target("a"))  # group_wait over: notified
    d.tick(140.0)
    a = d.alert(target("a"))
    assert a is not None
    assert (a.status, a.fired_at, a.resolved_at, a.updated_at) == (
        "resolved", 100.0, 140.0, 140.0)
    assert [x.status for x in d.last.alerts] == ["resolved"]


def test_a_resolved_alert_whose_signal_returns_starts_a_new_incarnation() -> None:
    d = Driver(config())
    d.tick(100.0, target("a", since=99.0))
    d.tick(130.0, target("a", since=99.0))
    d.tick(140.0)
    d.tick(150.0, target("a", since=149.0))
    a = d.alert(target("a"))
    assert a is not None
    assert (a.status, a.fired_at, a.resolved_at, a.active_since) == (
        "firing", 150.0, None, 149.0)


def test_a_resolved_alert_coming_back_pending_waits_for_its_notice_then_is_pending() -> None:
    d = Driver(config())
    d.tick(100.0, target("a"))
    d.tick(130.0, target("a"))  # notified as firing
    d.tick(140.0)
    d.tick(150.0, target("a", firing=False, since=150.0))
    a = d.alert(target("a"))
    assert a is not None
    assert (a.status, a.resolved_at) == ("resolved", 140.0)  # its notice is still owed
    [n] = d.tick(430.0, target("a", firing=False, since=150.0))
    assert (n.kind, [x.status for x in n.alerts]) == ("resolved", ["resolved"])
    a = d.alert(target("a"))
    assert a is not None
    assert (a.status, a.fired_at, a.resolved_at, a.active_since) == (
        "pending", None, None, 150.0)


def test_a_resolved_alert_coming_back_firing_is_a_new_incarnation_at_once() -> None:
    d = Driver(config())
    d.tick(100.0, target("a"))
    d.tick(130.0, target("a"))
    d.tick(140.0)
    d.tick(150.0, target("a"))
    a = d.alert(target("a"))
    assert a is not None
    assert (a.status, a.fired_at, a.resolved_at) == ("firing", 150.0, None)


def test_an_annotation_change_is_stored_but_never_notified() -> None:
    d = Driver(config())
    d.tick(100.0, target("a", annotations={"detail": "refused"}))
    d.tick(130.0, target("a", annotations={"detail": "refused"}))
    sent = len(d.sent)
    d.tick(140.0, target("a", annotations={"detail": "timeout"}))
    a = d.alert(target("a"))
    assert a is not None
    assert (dict(a.annotations), a.updated_at, a.status) == ({"detail": "timeout"}, 140.0,
                                                            "firing")
    assert list(d.last.alerts) == [a]
    d.tick(430.0, target("a", annotations={"detail": "timeout"}))  # the next interval
    assert len(d.sent) == sent


def test_an_unchanged_alert_is_the_same_object_and_not_in_the_change() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a", since=90.0), target("b", since=90.0))
    a = d.alert(target("a"))
    d.tick(110.0, target("a", since=90.0), target("b", since=90.0))
    assert d.alert(target("a")) is a
    assert not d.last


def test_a_signal_without_active_since_keeps_the_first_seen_time() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    d.tick(110.0, target("a"))
    a = d.alert(target("a"))
    assert a is not None
    assert a.active_since == 100.0


def test_duplicate_signals_for_one_label_set_make_one_alert_the_last_wins() -> None:
    state, change = step(EngineState(), [target("a", firing=False), target("a")],
                         now=100.0, config=CFG)
    assert [a.status for a in state.alerts.values()] == ["firing"]
    assert len(change.alerts) == 1


def test_the_change_lists_alerts_sorted_by_fingerprint() -> None:
    signals = [target(f"t{i}") for i in range(20)]
    _, change = step(EngineState(), signals, now=100.0, config=CFG)
    fps = [a.fingerprint for a in change.alerts]
    assert fps == sorted(fps)
    assert len(fps) == 20
