"""Alertmanager's receiver: every change at once, no grouping of ours; and the synthetic
notification of ``omniwatch alerts test``."""

from __future__ import annotations

from alerts import engine
from alerts.model import fingerprint, labelset
from tests.alerts.engine_support import Driver, config, route, signal, silence, target

CFG = config(alertmanager=True)


def am(notes: list[engine.Notification]) -> list[engine.Notification]:
    return [n for n in notes if n.receiver == "alertmanager"]


def test_a_newly_firing_alert_goes_to_alertmanager_in_the_same_tick() -> None:
    d = Driver(CFG)
    [n] = d.tick(100.0, target("b", since=90.0), target("a", since=95.0))
    assert (n.kind, n.route, n.group_key, n.group_labels, n.created_at) == (
        "firing", "alertmanager", "alertmanager", (), 100.0)
    assert n.episode == n.id
    assert n.id.startswith("alertmanager:100000:")
    assert [(a.status, dict(a.labels)["target"], a.starts_at) for a in n.alerts] == [
        ("firing", "a", 95.0), ("firing", "b", 90.0)]


def test_nothing_goes_to_alertmanager_when_nothing_changed() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    assert am(d.tick(110.0, target("a"))) == []
    assert am(d.tick(130.0, target("a"))) == []  # the Slack group's flush is not AM's


def test_pending_alerts_never_go_to_alertmanager_until_they_fire() -> None:
    d = Driver(CFG)
    assert d.tick(100.0, target("a", firing=False), target("b", firing=False)) == []
    [n] = am(d.tick(110.0, target("a"), target("b", firing=False)))
    assert [(a.status, dict(a.labels)["target"]) for a in n.alerts] == [("firing", "a")]
    assert am(d.tick(120.0, target("a"))) == []  # b, only ever pending, clears unheard of
    assert d.alert(target("b")) is None


def test_a_resolution_goes_to_alertmanager_at_once_with_its_end() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"), target("b"))
    [n] = am(d.tick(110.0, target("b"), target("c")))
    assert n.kind == "firing"
    assert [(a.status, dict(a.labels)["target"], a.ends_at) for a in n.alerts] == [
        ("firing", "c", None), ("resolved", "a", 110.0)]
    [n] = am(d.tick(120.0))
    assert n.kind == "resolved"
    assert {dict(a.labels)["target"] for a in n.resolved} == {"b", "c"}


def test_after_its_resolution_reached_alertmanager_an_unowed_alert_is_forgotten() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    d.tick(110.0)  # resolved inside group_wait: no Slack notice owed
    assert d.state.alerts == {}
    assert [a.status for a in d.last.notifications[0].alerts] == ["resolved"]


def test_muted_alerts_are_not_sent_to_alertmanager_as_firing() -> None:
    d = Driver(CFG, silences=[silence("target=b")])
    [n] = d.tick(100.0, target("a"), target("b"), signal("ChannelDown", channel="app"),
                 target("c", "app"))
    assert sorted(dict(a.labels).get("target", "-") for a in n.alerts) == ["-", "a"]


def test_alertmanager_ids_are_stable_for_a_rerun_and_unique_otherwise() -> None:
    first = Driver(CFG).tick(100.0, target("a"))[0]
    rerun = Driver(CFG).tick(100.0, target("a"))[0]
    other = Driver(CFG).tick(100.0, target("b"))[0]
    assert first.id == rerun.id
    assert first.id != other.id


def test_alertmanager_and_the_routes_both_hear_of_an_alert() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    notes = d.tick(130.0, target("a"))
    assert [n.receiver for n in notes] == ["default/slack"]
    assert [n.receiver for n in d.sent] == ["alertmanager", "default/slack"]


def test_alertmanager_comes_last_among_a_ticks_notifications() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    notes = d.tick(130.0, target("a"), target("b"))
    assert [n.receiver for n in notes] == ["default/slack", "alertmanager"]


def test_the_test_notification_is_one_synthetic_info_alert_for_the_route() -> None:
    r = route("branch", "channel=branch")
    cfg = config(r)
    n = engine.test_notification(cfg, r, r.receivers[0], 1234.5)
    labels = labelset({"alertname": "OmniwatchTest", "route": "branch", "severity": "info"})
    assert (n.kind, n.receiver, n.route, n.created_at, n.episode) == (
        "test", "branch/slack", "branch", 1234.5, n.id)
    assert n.id == "branch/slack:test:1234500"
    [a] = n.alerts
    assert (a.status, a.labels, a.fingerprint, a.starts_at) == (
        "firing", labels, fingerprint(labels), 1234.5)
    assert dict(n.group_labels) == {"alertname": "OmniwatchTest"}


def test_two_test_notifications_never_share_an_id() -> None:
    r = CFG.default_route
    ids = {engine.test_notification(CFG, r, r.receivers[0], t).id for t in (1.0, 1.001)}
    assert len(ids) == 2
