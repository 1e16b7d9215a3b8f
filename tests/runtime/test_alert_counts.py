"""The omniwatch_alerts counts, and when they are recounted: a change of states, of
silences or of config, never for new annotations alone."""

from __future__ import annotations

import dataclasses

from alerts.engine import step
from alerts.store import EngineState
from monitor.runtime.alert_counts import AlertCounts, changes_counts, count_alerts
from tests.alerts.engine_support import config, route, signal, silence, target

CFG = config(route("default"))


def test_counts_by_name_severity_and_state_with_mutes() -> None:
    signals = [target("a", severity="page"), target("b"), target("c", firing=False),
               signal("ChannelDown", channel="app", severity="page"),
               target("d", "app", severity="page")]
    state, _ = step(EngineState(), signals, now=100.0, config=CFG)
    got = count_alerts(state, CFG, [silence("target=a")], 100.0)
    assert got == {("TargetDown", "page", "silenced"): 1, ("TargetDown", "", "firing"): 1,
                   ("TargetDown", "", "pending"): 1, ("ChannelDown", "page", "firing"): 1,
                   ("TargetDown", "page", "inhibited"): 1}


def test_counts_are_kept_while_nothing_they_follow_from_changed() -> None:
    counts = AlertCounts()
    s0 = EngineState()
    s1, c1 = step(s0, [target("a")], now=100.0, config=CFG)
    first = counts.update(s0, s1, c1, CFG, [], 100.0)
    assert first == {("TargetDown", "", "firing"): 1}
    # New annotations only: the same counts object, not recounted.
    s2, c2 = step(s1, [target("a", annotations={"summary": "still down"})], now=105.0,
                  config=CFG)
    assert c2.alerts
    assert not changes_counts(s1, c2)
    assert counts.update(s1, s2, c2, CFG, [], 105.0) is first
    # A silence begins: recounted.
    muted = counts.update(s2, s2, dataclasses.replace(c2, alerts=()), CFG,
                          [silence("target=a", starts=106.0)], 110.0)
    assert muted == {("TargetDown", "", "silenced"): 1}
    # It resolves: recounted; forget() recounts whatever the change.
    s3, c3 = step(s2, [], now=120.0, config=CFG)
    assert changes_counts(s2, c3)
    assert counts.update(s2, s3, c3, CFG, [], 120.0) == {}
    counts.forget()
    assert counts.update(s3, s1, type(c3)(), CFG, [], 121.0) == first
