"""Silences and inhibition: who is muted, why (muted_by), and that muting never orphans
a page that already went out."""

from __future__ import annotations

import pytest

from alerts.config import DEFAULT_INHIBIT_RULES
from alerts.engine import muted_by, step
from alerts.model import Signal
from alerts.store import EngineState
from tests.alerts.engine_support import (
    Driver,
    config,
    fp,
    inhibit_rule,
    names,
    signal,
    silence,
    target,
)

CFG = config()


def state_of(*signals: Signal, now: float = 100.0) -> EngineState:
    s, _ = step(EngineState(), signals, now=now, config=CFG)
    return s


def channel_down(channel: str = "branch", *, firing: bool = True) -> Signal:
    return signal("ChannelDown", channel=channel, firing=firing)


# --- silences ------------------------------------------------------------------------

@pytest.mark.parametrize(("matcher", "muted"), [
    ("target=a1", True), ("target=a", False),
    ("target!=b", True), ("target!=a1", False),
    ("target=~a.", True), ("target=~a", False),          # anchored: a whole value only
    ("target=~.1|zz", True), ("target=~x|a", False),     # anchored around alternations
    ("target!~b.*", True), ("target!~a.*", False),
    ('team=""', True), ("team!=ops", True),              # absent reads as empty
    ("team=~.+", False), ("team!~.+", True),
])
def test_silence_matchers_follow_alertmanager(matcher: str, muted: bool) -> None:
    s = state_of(target("a1"))
    got = muted_by(s, CFG, [silence(matcher)], 100.0)
    assert (fp(target("a1")) in got) is muted


def test_every_matcher_of_a_silence_must_match() -> None:
    s = state_of(target("a1"), target("a2", "app"))
    got = muted_by(s, CFG, [silence("channel=branch", "target=~a.")], 100.0)
    assert got == {fp(target("a1")): ("s1",)}


def test_a_silence_mutes_from_its_start_until_just_before_its_end() -> None:
    s = state_of(target("a"))
    sil = [silence("target=a", starts=200.0, ends=300.0)]
    assert [fp(target("a")) in muted_by(s, CFG, sil, t) for t in (199.9, 200.0, 299.9,
                                                                   300.0)] == [
        False, True, True, False]


def test_muted_by_lists_every_silence_then_every_inhibiting_source() -> None:
    s = state_of(target("a"), channel_down())
    sils = [silence("target=a", sid="s1"), silence("channel=branch", sid="s2"),
            silence("channel=app", sid="s3")]
    got = muted_by(s, CFG, sils, 100.0)
    assert got[fp(target("a"))] == ("s1", "s2", f"inhibited:{fp(channel_down())}")
    assert got[fp(channel_down())] == ("s2",)


def test_a_silenced_alert_is_not_sent_and_opens_no_group() -> None:
    d = Driver(CFG, silences=[silence("target=a")])
    d.tick(100.0, target("a"))
    d.tick(130.0, target("a"))
    assert d.sent == []
    assert d.state.groups == {}
    assert d.alert(target("a")) is not None


def test_a_silenced_alert_is_left_out_of_its_groups_message() -> None:
    d = Driver(CFG, silences=[silence("target=b")])
    d.tick(100.0, target("a"), target("b"))
    [n] = d.tick(130.0, target("a"), target("b"))
    assert names(n) == [("firing", "a")]


def test_an_expiring_silence_lets_the_alert_out_at_the_next_flush() -> None:
    d = Driver(CFG, silences=[silence("target=b", ends=200.0)])
    d.tick(100.0, target("a"), target("b"))
    d.tick(130.0, target("a"), target("b"))
    assert d.tick(300.0, target("a"), target("b")) == []  # not due until 430
    [n] = d.tick(430.0, target("a"), target("b"))
    assert (n.kind, names(n)) == ("update", [("firing", "a"), ("firing", "b")])


def test_a_group_held_open_by_a_muted_alert_keeps_its_timers() -> None:
    # Alertmanager keeps a group while any alert in it fires, silenced or not.
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    d.silences = [silence("target=a", ends=250.0)]
    assert d.tick(130.0, target("a")) == []  # muted at the first flush: nothing to say
    assert d.group().next_flush_at == 430.0
    assert d.tick(300.0, target("a")) == []
    assert [n.kind for n in d.tick(430.0, target("a"))] == ["firing"]


def test_notified_then_silenced_is_neither_listed_nor_reminded_but_resolution_is_sent() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"), target("b"))
    d.tick(130.0, target("a"), target("b"))
    d.silences = [silence("target=b")]
    assert d.tick(430.0, target("a"), target("b")) == []  # muting is no news
    assert fp(target("b")) in d.group().notified
    d.tick(500.0, target("a"))                            # b resolves while silenced
    [n] = d.tick(730.0, target("a"))
    assert (n.kind, names(n)) == ("update", [("firing", "a"), ("resolved", "b")])


def test_the_only_notified_alert_silenced_then_resolved_still_gets_resolved() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"))
    d.tick(130.0, target("a"))
    d.silences = [silence("target=a")]
    for now in range(430, 4000, 300):  # no reminder while silenced
        assert d.tick(float(now), target("a")) == []
    d.tick(4000.0)
    [n] = d.tick(4030.0)
    assert (n.kind, names(n), n.episode) == ("resolved", [("resolved", "a")],
                                             d.sent[0].episode)
    assert d.state.groups == {}
    assert d.state.alerts == {}


def test_a_resolved_notice_keeps_the_episode_open_for_a_silenced_notified_alert() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"), target("b"))
    d.tick(130.0, target("a"), target("b"))
    d.silences = [silence("target=b")]
    d.tick(200.0, target("b"))
    [n] = d.tick(430.0, target("b"))
    assert (n.kind, names(n)) == ("resolved", [("resolved", "a")])
    assert d.group().episode == d.sent[0].episode  # b's resolution is still owed
    d.tick(500.0)
    [n] = d.tick(730.0)
    assert (n.kind, names(n), n.episode) == ("resolved", [("resolved", "b")],
                                             d.sent[0].episode)
    assert d.state.groups == {}


# --- inhibition ----------------------------------------------------------------------

def test_a_firing_channel_outage_inhibits_its_targets_only() -> None:
    s = state_of(target("a"), target("b", "app"), channel_down())
    got = muted_by(s, CFG, [], 100.0)
    assert got == {fp(target("a")): (f"inhibited:{fp(channel_down())}",)}


def test_a_pending_source_does_not_inhibit() -> None:
    s = state_of(target("a"), channel_down(firing=False))
    assert muted_by(s, CFG, [], 100.0) == {}


def test_a_resolved_source_does_not_inhibit() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"), channel_down())
    d.tick(130.0, target("a"), channel_down())
    d.tick(140.0, target("a"))
    assert d.alert(channel_down()) is not None  # resolved, its notice still owed
    assert muted_by(d.state, CFG, [], 140.0) == {}


def test_a_silenced_source_still_inhibits() -> None:
    d = Driver(CFG, silences=[silence("alertname=ChannelDown")])
    d.tick(100.0, target("a"), channel_down())
    assert d.tick(130.0, target("a"), channel_down()) == []
    assert muted_by(d.state, CFG, d.silences, 130.0)[fp(target("a"))] == (
        f"inhibited:{fp(channel_down())}",)


def test_the_outage_sends_one_message_not_one_per_target() -> None:
    d = Driver(CFG)
    targets = [target(f"t{i}") for i in range(40)]
    d.tick(100.0, *targets, channel_down())
    notes = d.tick(130.0, *targets, channel_down())
    assert [(n.group_key, names(n)) for n in notes] == [
        ('default:{alertname="ChannelDown",channel="branch"}', [("firing", "ChannelDown")])]


def test_equal_labels_must_match_and_absent_equals_absent() -> None:
    rule = inhibit_rule(["alertname=Big"], ["alertname=Small"], equal=["zone", "dc"])
    cfg = config(inhibit=[rule])
    big = signal("Big", zone="z1")                     # dc absent
    small_same = signal("Small", zone="z1", name="s")  # dc absent too: equal
    small_dc = signal("Small", zone="z1", dc="d1")     # dc present: not equal
    small_other = signal("Small", zone="z2")
    s, _ = step(EngineState(), [big, small_same, small_dc, small_other], now=1.0,
                config=cfg)
    assert set(muted_by(s, cfg, [], 1.0)) == {fp(small_same)}


def test_an_alert_never_inhibits_itself() -> None:
    rule = inhibit_rule(["severity=page"], ["severity=~page|ticket"], equal=["channel"])
    cfg = config(inhibit=[rule])
    page = signal("X", severity="page", channel="app")
    s, _ = step(EngineState(), [page], now=1.0, config=cfg)
    assert muted_by(s, cfg, [], 1.0) == {}


def test_two_alerts_matching_both_sides_do_not_mute_each_other() -> None:
    # Alertmanager: a target matching the source side too is muted only by sources that
    # do not match the target side; else two pages would silence each other.
    rule = inhibit_rule(["severity=page"], ["severity=~page|ticket"], equal=["channel"])
    cfg = config(inhibit=[rule])
    p1, p2 = signal("X", severity="page", channel="app"), signal("Y", severity="page",
                                                               channel="app")
    ticket = signal("Z", severity="ticket", channel="app")
    s, _ = step(EngineState(), [p1, p2, ticket], now=1.0, config=cfg)
    assert set(muted_by(s, cfg, [], 1.0)) == {fp(ticket)}
    # A one-sided source does mute a two-sided target.
    rule2 = inhibit_rule(["alertname=Outage"], ["severity=~page|ticket"], equal=["channel"])
    cfg2 = config(inhibit=[rule, rule2])
    outage = signal("Outage", channel="app")
    s2, _ = step(EngineState(), [p1, outage], now=1.0, config=cfg2)
    assert muted_by(s2, cfg2, [], 1.0) == {fp(p1): (f"inhibited:{fp(outage)}",)}


def test_every_rule_applies_and_sources_are_listed_once_sorted() -> None:
    rules = [*DEFAULT_INHIBIT_RULES, inhibit_rule(["alertname=ChannelDown"],
                                                  ["alertname=TargetDown"])]
    cfg = config(inhibit=rules)
    down_b, down_a = channel_down("branch"), channel_down("app")
    s, _ = step(EngineState(), [target("t"), down_b, down_a], now=1.0, config=cfg)
    assert muted_by(s, cfg, [], 1.0)[fp(target("t"))] == tuple(
        f"inhibited:{x}" for x in sorted((fp(down_a), fp(down_b))))


def test_no_inhibit_rules_mute_nothing() -> None:
    cfg = config(inhibit=[])
    s, _ = step(EngineState(), [target("a"), channel_down()], now=1.0, config=cfg)
    assert muted_by(s, cfg, [], 1.0) == {}


def test_notified_then_inhibited_still_gets_its_resolved_notice() -> None:
    d = Driver(CFG)
    d.tick(100.0, target("a"), target("b"))
    [first] = d.tick(130.0, target("a"), target("b"))
    d.tick(200.0, target("a"), target("b"), channel_down())  # the outage mutes a and b
    notes = d.tick(430.0, target("a"), target("b"), channel_down())
    # Only the outage speaks (its group's wait ended at 230); the targets' group, whose
    # alerts are all muted now, says nothing.
    assert [(n.kind, n.group_key) for n in notes] == [
        ("firing", 'default:{alertname="ChannelDown",channel="branch"}')]
    d.tick(500.0, channel_down())  # targets recover first
    notes = d.tick(730.0, channel_down())
    [n] = [x for x in notes if x.episode == first.episode]
    assert (n.kind, names(n)) == ("resolved", [("resolved", "a"), ("resolved", "b")])


def test_muted_by_covers_pending_alerts_too() -> None:
    s = state_of(target("a", firing=False))
    assert muted_by(s, CFG, [silence("target=a")], 100.0) == {fp(target("a")): ("s1",)}


def test_muted_by_ignores_inactive_silences() -> None:
    s = state_of(target("a"))
    assert muted_by(s, CFG, [silence("target=a", starts=500.0)], 100.0) == {}
