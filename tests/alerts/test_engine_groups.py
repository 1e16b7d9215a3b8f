"""Aggregation groups: group_wait, group_interval, repeat_interval, episodes, and what
each notification lists (Alertmanager's semantics, at exact ``now`` values)."""

from __future__ import annotations

import dataclasses

from alerts.config import Timing
from alerts.engine import step
from alerts.routing import group_hash
from alerts.store import EngineState
from tests.alerts.engine_support import Driver, config, fp, names, receiver, route, target

# group_wait 30 s, group_interval 300 s, repeat_interval 3600 s (TIMING)
CFG = config()
KEY = 'default:{alertname="TargetDown",channel="branch"}'


def started() -> Driver:
    """A driver whose group opened at t=100 and sent its first notification at t=130."""
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    d.tick(130.0, target("a"))
    return d


def test_a_new_group_waits_group_wait_then_sends_firing() -> None:
    d = Driver(CFG)
    assert d.tick(100.0, target("a")) == []
    g = d.group()
    assert (g.key, g.created_at, g.next_flush_at, g.episode, g.seq) == (
        KEY, 100.0, 130.0, None, 0)
    assert dict(g.labels) == {"alertname": "TargetDown", "channel": "branch"}
    assert d.tick(129.999, target("a")) == []
    [n] = d.tick(130.0, target("a"))
    stem = group_hash(KEY, 100.0)
    assert (n.kind, n.id, n.episode, n.receiver, n.route, n.group_key, n.created_at) == (
        "firing", f"default/slack:{stem}:1", f"{stem}:1", "default/slack", "default", KEY,
        130.0)
    assert names(n) == [("firing", "a")]
    g = d.group()
    assert (g.next_flush_at, g.last_notified_at, g.notified, g.episode, g.seq) == (
        430.0, 130.0, frozenset({fp(target("a"))}), f"{stem}:1", 1)


def test_alerts_arriving_within_group_wait_go_out_together() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("b"))
    d.tick(110.0, target("b"), target("a"))
    d.tick(120.0, target("b"), target("a"), target("c"))
    [n] = d.tick(130.0, target("b"), target("a"), target("c"))
    assert names(n) == [("firing", "a"), ("firing", "b"), ("firing", "c")]


def test_an_alert_resolved_inside_group_wait_is_never_sent() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    d.tick(110.0)
    assert d.tick(130.0) == []
    assert d.tick(1000.0) == []
    assert d.state.groups == {}
    assert d.state.alerts == {}
    assert d.sent == []


def test_an_alert_resolved_inside_group_wait_is_left_out_of_the_first_message() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"), target("b"))
    d.tick(110.0, target("a"))
    [n] = d.tick(130.0, target("a"))
    assert names(n) == [("firing", "a")]


def test_nothing_is_sent_between_group_interval_ticks() -> None:
    d = started()
    for now in (131.0, 200.0, 429.0):
        assert d.tick(now, target("a"), target("b")) == []


def test_an_alert_joining_a_flushed_group_waits_for_the_next_interval_tick() -> None:
    d = started()
    assert d.tick(140.0, target("a"), target("b")) == []
    assert d.tick(429.9, target("a"), target("b")) == []
    [n] = d.tick(430.0, target("a"), target("b"))
    assert n.kind == "update"
    assert names(n) == [("firing", "a"), ("firing", "b")]
    assert n.episode == d.sent[0].episode
    assert n.id == f"default/slack:{group_hash(KEY, 100.0)}:2"
    assert d.group().next_flush_at == 730.0


def test_a_resolution_is_an_update_while_others_still_fire() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"), target("b"))
    d.tick(130.0, target("a"), target("b"))
    d.tick(200.0, target("a"))
    [n] = d.tick(430.0, target("a"))
    assert n.kind == "update"
    assert names(n) == [("firing", "a"), ("resolved", "b")]
    resolved = n.resolved[0]
    assert (resolved.ends_at, resolved.starts_at) == (200.0, 100.0)
    assert d.group().notified == frozenset({fp(target("a"))})
    assert d.alert(target("b")) is None  # its notice is out: forgotten


def test_the_last_resolution_sends_resolved_and_closes_the_episode() -> None:
    d = started()
    d.tick(200.0)
    assert d.alert(target("a")) is not None  # still owed its resolved notice
    [n] = d.tick(430.0)
    assert n.kind == "resolved"
    assert n.episode == d.sent[0].episode
    assert names(n) == [("resolved", "a")]
    # Nothing fires and nothing is owed: the group and the alert are gone.
    assert d.state.groups == {}
    assert d.state.alerts == {}


def test_a_new_episode_after_a_close_waits_group_wait_again_with_fresh_ids() -> None:
    d = started()
    d.tick(200.0)
    d.tick(430.0)
    d.tick(500.0, target("a"))
    assert d.group().next_flush_at == 530.0
    [n] = d.tick(530.0, target("a"))
    assert n.kind == "firing"
    assert n.episode != d.sent[0].episode
    assert n.id not in {x.id for x in d.sent[:-1]}  # an outbox key never repeats


def test_a_reminder_after_repeat_interval_while_unchanged() -> None:
    d = started()
    # Flushes at 430, 730, ..., 3430: nothing changed and 3300 s < repeat_interval.
    for now in range(430, 3431, 300):
        assert d.tick(float(now), target("a")) == []
    [n] = d.tick(3730.0, target("a"))  # 3600 s after the first notification
    assert n.kind == "reminder"
    assert names(n) == [("firing", "a")]
    assert n.episode == d.sent[0].episode
    assert d.group().last_notified_at == 3730.0


def test_repeat_interval_is_checked_at_interval_ticks_exactly_at_the_boundary() -> None:
    timing = Timing(group_wait_seconds=10.0, group_interval_seconds=50.0,
                    repeat_interval_seconds=100.0)
    d = Driver(config(default=route("default", timing=timing)))
    d.tick(0.0, target("a"))
    assert [n.kind for n in d.tick(10.0, target("a"))] == ["firing"]
    assert d.tick(60.0, target("a")) == []  # 50 s since the last: no reminder
    assert [n.kind for n in d.tick(110.0, target("a"))] == ["reminder"]  # exactly 100 s


def test_an_update_resets_the_repeat_clock() -> None:
    timing = Timing(group_wait_seconds=10.0, group_interval_seconds=50.0,
                    repeat_interval_seconds=100.0)
    d = Driver(config(default=route("default", timing=timing)))
    d.tick(0.0, target("a"))
    d.tick(10.0, target("a"))
    assert [n.kind for n in d.tick(60.0, target("a"), target("b"))] == ["update"]
    assert d.tick(110.0, target("a"), target("b")) == []
    assert [n.kind for n in d.tick(160.0, target("a"), target("b"))] == ["reminder"]


def test_no_reminder_when_the_repeat_interval_passes_between_flushes_only() -> None:
    d = started()
    assert d.tick(3730.0 - 1.0, target("a")) == []  # the due flush: 3599 s, too early
    # The next look is a whole group_interval later.
    assert d.tick(3730.0, target("a")) == []
    assert [n.kind for n in d.tick(4029.0, target("a"))] == ["reminder"]


def test_a_late_tick_flushes_once_and_reschedules_from_now() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    [n] = d.tick(1000.0, target("a"))  # the process was busy: flush late, once
    assert n.kind == "firing"
    assert d.group().next_flush_at == 1300.0


def test_a_flapping_alert_refiring_before_the_flush_is_no_news() -> None:
    d = started()
    d.tick(200.0)
    d.tick(210.0, target("a"))
    assert d.tick(430.0, target("a")) == []


def test_a_resolved_alert_that_comes_back_pending_is_announced_resolved() -> None:
    d = started()
    d.tick(200.0)
    d.tick(210.0, target("a", firing=False))
    [n] = d.tick(430.0, target("a", firing=False))
    assert (n.kind, names(n)) == ("resolved", [("resolved", "a")])
    assert n.alerts[0].ends_at == 200.0
    assert d.state.groups == {}


def test_a_resolved_alert_back_pending_then_clearing_is_still_announced() -> None:
    d = started()
    d.tick(200.0)
    d.tick(210.0, target("a", firing=False))
    d.tick(220.0)
    [n] = d.tick(430.0)
    assert (n.kind, names(n)) == ("resolved", [("resolved", "a")])
    assert d.state == type(d.state)()


def test_an_alert_resolved_and_refired_in_one_episode_is_an_update() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"), target("b"))
    d.tick(130.0, target("a"), target("b"))
    d.tick(200.0, target("a"))
    assert names(d.tick(430.0, target("a"))[0]) == [("firing", "a"), ("resolved", "b")]
    d.tick(500.0, target("a"), target("b"))
    [n] = d.tick(730.0, target("a"), target("b"))
    assert (n.kind, names(n)) == ("update", [("firing", "a"), ("firing", "b")])


def test_one_notification_per_receiver_sharing_the_episode() -> None:
    rs = (receiver("default", "slack"), receiver("default", "webhook"))
    d = Driver(config(default=route("default", receivers=rs)))
    d.tick(100.0, target("a"))
    notes = d.tick(130.0, target("a"))
    assert [n.receiver for n in notes] == ["default/slack", "default/webhook"]
    assert len({n.episode for n in notes}) == 1
    assert len({n.id for n in notes}) == 2
    assert notes[0].alerts is notes[1].alerts


def test_a_route_without_receivers_groups_but_sends_nothing() -> None:
    d = Driver(config(default=route("default", receivers=())))
    d.tick(100.0, target("a"))
    assert d.tick(130.0, target("a")) == []
    g = d.group()
    assert (g.seq, g.last_notified_at, g.notified) == (1, 130.0, frozenset({fp(target("a"))}))


def test_groups_split_by_group_by_values_and_missing_labels_read_empty() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a", "branch"), target("b", "app"),
           target("c", "app"), target("d", ""))
    keys = sorted(k for _, k in d.state.groups)
    assert keys == ['default:{alertname="TargetDown",channel=""}',
                    'default:{alertname="TargetDown",channel="app"}',
                    'default:{alertname="TargetDown",channel="branch"}']
    notes = d.tick(130.0, target("a", "branch"), target("b", "app"),
                   target("c", "app"), target("d", ""))
    assert [names(n) for n in notes] == [[("firing", "d")],
                                         [("firing", "b"), ("firing", "c")],
                                         [("firing", "a")]]
    empty = d.state.groups[("default", keys[0])]
    assert dict(empty.labels) == {"alertname": "TargetDown"}


def test_ten_thousand_failing_targets_of_one_channel_make_one_group_and_message() -> None:
    rs = (receiver("default", "slack"), receiver("default", "webhook"))
    cfg = config(default=route("default", receivers=rs))
    signals = [target(f"t{i:05}", since=50.0) for i in range(10_000)]
    state, change = step(EngineState(), signals, now=100.0, config=cfg)
    assert len(state.groups) == 1
    assert change.notifications == []
    state, change = step(state, signals, now=130.0, config=cfg)
    assert len(state.groups) == 1
    assert [n.receiver for n in change.notifications] == ["default/slack", "default/webhook"]
    assert all(len(n.alerts) == 10_000 and n.kind == "firing" for n in change.notifications)
    # The quiet tick after: nothing at all changed, no object rebuilt.
    again, change = step(state, signals, now=135.0, config=cfg)
    assert not change
    assert all(again.alerts[k] is a for k, a in state.alerts.items())


def test_group_changes_are_listed_only_when_a_group_changed() -> None:
    d = started()
    d.tick(140.0, target("a"))
    assert list(d.last.groups) == []
    d.tick(430.0, target("a"))  # a flush that sends nothing still moves the timer
    assert [g.next_flush_at for g in d.last.groups] == [730.0]


def test_a_group_whose_route_left_the_config_is_dropped_with_its_alerts() -> None:
    d = Driver(config(route("branch", "channel=branch")))
    d.tick(100.0, target("a"))
    d.tick(130.0, target("a"))
    d.config = dataclasses.replace(d.config, routes=())
    d.tick(140.0)
    assert ("branch", 'branch:{alertname="TargetDown",channel="branch"}') in (
        d.last.removed_groups)
    assert d.state.alerts == {}
