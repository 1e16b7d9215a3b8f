"""Routing: routes in order, continue, the default route, group keys, and receivers that
are broken for the self-health alert about delivery."""

from __future__ import annotations

from alerts.engine import route_alert
from alerts.model import labelset
from alerts.routing import Router, group_key
from tests.alerts.engine_support import Driver, config, receiver, route, signal, target

BRANCH = route("branch", "channel=branch")
TICKETS = route("tickets", "severity=ticket", continue_=True)
PAGES = route("pages", "severity=~page|critical")
CFG = config(TICKETS, BRANCH, PAGES)


def taken(**labels: str) -> list[str]:
    return [r.name for r in route_alert(labelset(labels), CFG)]


def test_the_first_matching_route_takes_the_alert() -> None:
    assert taken(alertname="X", channel="branch", severity="page") == ["branch"]
    assert taken(alertname="X", channel="app", severity="page") == ["pages"]


def test_continue_lets_later_routes_take_it_too() -> None:
    assert taken(alertname="X", channel="branch", severity="ticket") == ["tickets", "branch"]


def test_an_alert_only_continuing_routes_take_is_not_sent_to_the_default_route() -> None:
    # As in Alertmanager: a continuing match is a match.
    assert taken(alertname="X", channel="app", severity="ticket") == ["tickets"]


def test_no_taker_means_the_default_route() -> None:
    assert taken(alertname="X", channel="app") == ["default"]
    assert taken() == ["default"]


def test_all_matchers_of_a_route_must_match() -> None:
    cfg = config(route("both", "channel=branch", "severity=page"))
    assert [r.name for r in route_alert(labelset({"channel": "branch"}), cfg)] == ["default"]
    both = labelset({"channel": "branch", "severity": "page"})
    assert [r.name for r in route_alert(both, cfg)] == ["both"]


def test_route_regexes_are_anchored() -> None:
    assert taken(alertname="X", channel="app", severity="pager") == ["default"]


def test_an_alert_taken_by_two_routes_is_grouped_and_sent_on_both() -> None:
    d = Driver(CFG)
    s = target("a", severity="ticket")
    d.tick(100.0, s)
    notes = d.tick(130.0, s)
    assert sorted(n.receiver for n in notes) == ["branch/slack", "tickets/slack"]
    assert len({n.episode for n in notes}) == 2  # one thread per route


def test_the_group_key_reads_route_name_and_group_by_values_in_order() -> None:
    r = route("r", group_by=("channel", "alertname", "zone"))
    key = group_key(r, {"alertname": "TargetDown", "channel": 'we"ird'})
    assert key == 'r:{channel="we\\"ird",alertname="TargetDown",zone=""}'


def test_the_router_memo_gives_what_route_alert_gives() -> None:
    router = Router(CFG)
    for labels in ({"alertname": "X", "channel": "branch", "severity": "ticket", "t": "1"},
                   {"alertname": "X", "channel": "branch", "severity": "ticket", "t": "2"},
                   {"alertname": "X", "channel": "app", "t": "3"}):
        ls = labelset(labels)
        placed = router.groups(ls)
        assert [gid[0] for gid, _ in placed] == [r.name for r in route_alert(ls, CFG)]
        assert [gid[1] for gid, _ in placed] == [group_key(r, labels)
                                                 for r in route_alert(ls, CFG)]


# --- broken receivers and the self-health alert --------------------------------------

OPS = route("ops", "team=ops", receivers=[receiver("ops", "slack"), receiver("ops", "hook")])
HEALTH = config(OPS, BRANCH)


def failing(broken: set[str], **labels: str) -> list[tuple[str, list[str]]]:
    """Routes and receivers of a NotificationsFailing alert with ``labels``."""
    return [(r.name, [x.name for x in r.receivers]) for r in route_alert(
        labelset({"alertname": "NotificationsFailing", **labels}), HEALTH,
        broken=frozenset(broken))]


def test_notifications_failing_is_not_sent_to_the_receivers_it_reports_broken() -> None:
    assert failing({"ops/slack"}, team="ops") == [("ops", ["ops/hook"])]


def test_notifications_failing_with_every_receiver_broken_falls_back_to_all_others() -> None:
    assert failing({"ops/slack", "ops/hook"}, team="ops") == [
        ("branch", ["branch/slack"]), ("default", ["default/slack"])]


def test_notifications_failing_respects_a_route_without_receivers() -> None:
    cfg = config(route("mute", "team=none", receivers=()))
    got = route_alert(labelset({"alertname": "NotificationsFailing", "team": "none"}), cfg,
                      broken=frozenset({"default/slack"}))
    assert [(r.name, r.receivers) for r in got] == [("mute", ())]


def test_notifications_failing_with_nothing_broken_routes_as_usual() -> None:
    assert failing(set(), team="ops") == [("ops", ["ops/slack", "ops/hook"])]


def test_other_alerts_ignore_broken_receivers() -> None:
    got = route_alert(labelset({"alertname": "TargetDown", "team": "ops"}), HEALTH,
                      broken=frozenset({"ops/slack", "ops/hook"}))
    assert [(r.name, len(r.receivers)) for r in got] == [("ops", 2)]


def test_the_engine_creates_no_notification_for_a_broken_receiver() -> None:
    d = Driver(HEALTH, broken=frozenset({"ops/slack"}))
    health = signal("NotificationsFailing", team="ops", receiver="ops/slack")
    other = target("t", "app", team="ops")
    d.tick(100.0, health, other)
    notes = d.tick(130.0, health, other)
    assert sorted((n.receiver, n.group_key.split(":")[1]) for n in notes) == [
        ("ops/hook", '{alertname="NotificationsFailing",channel=""}'),
        ("ops/hook", '{alertname="TargetDown",channel="app"}'),
        ("ops/slack", '{alertname="TargetDown",channel="app"}')]  # queued for the fix


def test_the_engine_falls_back_when_all_receivers_of_the_route_are_broken() -> None:
    d = Driver(HEALTH, broken=frozenset({"ops/slack", "ops/hook"}))
    health = signal("NotificationsFailing", team="ops")
    d.tick(100.0, health)
    notes = d.tick(130.0, health)
    assert sorted(n.receiver for n in notes) == ["branch/slack", "default/slack"]
    d.tick(200.0)
    notes = d.tick(430.0)
    assert sorted((n.receiver, n.kind) for n in notes) == [("branch/slack", "resolved"),
                                                           ("default/slack", "resolved")]
