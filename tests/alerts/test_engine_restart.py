"""Restart equivalence and the invariants of the state machine, over random histories.

The store saves each tick's :class:`StateChange`; a restart loads the saved state.  For
any history of signals, silences and clock jumps, stepping on from the reloaded state
must give exactly the notifications and state of an uninterrupted run: no zombie alert,
no lost or repeated notification.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.config import DEFAULT_INHIBIT_RULES, AlertsConfig, Timing
from alerts.engine import muted_by, step
from alerts.model import Notification, Signal, Silence
from alerts.mutes import Mutes
from alerts.store import EngineState, StateChange
from tests.alerts.engine_support import (
    apply,
    config,
    inhibit_rule,
    route,
    signal,
    silence,
    target,
)

TIMING = Timing(group_wait_seconds=30.0, group_interval_seconds=120.0,
                repeat_interval_seconds=600.0)
CFG = config(route("tickets", "severity=ticket", continue_=True, timing=TIMING),
             route("branch", "channel=branch", timing=TIMING),
             default=route("default", timing=TIMING), alertmanager=True,
             inhibit=[*DEFAULT_INHIBIT_RULES,
                      inhibit_rule(["severity=page"], ["severity=~page|ticket"], ["channel"])])

UNIVERSE: tuple[Signal, ...] = (
    *(target(f"t{i}", "branch") for i in range(3)),
    target("t3", "app"),
    target("t4", "app", severity="ticket"),
    signal("ChannelDown", channel="branch"),
    signal("NotificationsFailing", receiver="branch/slack"),
    signal("BurnRate", channel="app", severity="page"),
    signal("BudgetExhausted", channel="app", severity="page"),
)
SILENCES: tuple[tuple[Silence, ...], ...] = (
    (), (silence("target=t1"),), (silence("channel=~app|none", sid="s2"),),
    (silence("alertname=ChannelDown", sid="s3"), silence("target!~t[0-2]", sid="s4")),
)
STEPS = (1.0, 5.0, 29.0, 30.0, 31.0, 119.0, 120.0, 300.0, 600.0, 1000.0)

# One tick: (seconds since the last, index into SILENCES, per signal: absent, pending,
# firing)
Tick = tuple[float, int, tuple[int, ...]]
ticks = st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, len(SILENCES) - 1),
                           st.tuples(*(st.integers(0, 2) for _ in UNIVERSE))),
                 min_size=1, max_size=25)
brokens = st.sampled_from([frozenset(), frozenset({"branch/slack"}),
                           frozenset({"branch/slack", "default/slack"})])


def signals_of(states: Sequence[int]) -> list[Signal]:
    return [dataclasses.replace(s, firing=state == 2)
            for s, state in zip(UNIVERSE, states, strict=True) if state]


def reload(state: EngineState) -> EngineState:
    """A fresh copy, as a load from the store builds it: new objects, another order."""
    return EngineState(
        alerts={k: dataclasses.replace(a, labels=tuple(a.labels))
                for k, a in reversed(list(state.alerts.items()))},
        groups={k: dataclasses.replace(g, notified=frozenset(list(g.notified)))
                for k, g in reversed(list(state.groups.items()))})


@dataclasses.dataclass
class Run:
    config: AlertsConfig
    broken: frozenset[str]
    restart_at: frozenset[int] = frozenset()
    state: EngineState = dataclasses.field(default_factory=EngineState)
    now: float = 1000.0
    sent: list[Notification] = dataclasses.field(default_factory=list)
    changes: list[StateChange] = dataclasses.field(default_factory=list)

    def tick(self, i: int, dt: float, silences: Sequence[Silence],
             signals: Sequence[Signal]) -> None:
        if i in self.restart_at:
            self.state = reload(self.state)
        self.now += dt
        new, change = step(self.state, signals, now=self.now, config=self.config,
                           silences=silences, broken=self.broken)
        assert apply(self.state, change) == new
        check_invariants(new)
        check_mutes(new, self.config, silences, self.now)
        self.state = new
        self.sent.extend(change.notifications)
        self.changes.append(change)

    def play(self, history: Sequence[Tick]) -> None:
        for i, (dt, sil, states) in enumerate(history):
            self.tick(i, dt, SILENCES[sil], signals_of(states))


def check_invariants(state: EngineState) -> None:
    owed: set[str] = set()
    for (route_name, key), g in state.groups.items():
        assert (g.route, g.key) == (route_name, key)
        assert (g.episode is None) == (not g.notified), g
        assert g.seq == 0 or g.last_notified_at is not None
        owed |= g.notified
    assert owed <= state.alerts.keys(), "a group owes a notice about an unknown alert"
    for fp, a in state.alerts.items():
        assert a.fingerprint == fp
        if a.status == "resolved":
            assert fp in owed, "a zombie: resolved, owed to nobody, still kept"
            assert a.resolved_at is not None
        if a.status == "firing":
            assert a.fired_at is not None
            assert a.resolved_at is None


def check_mutes(state: EngineState, cfg: AlertsConfig, silences: Sequence[Silence],
                now: float) -> None:
    """The engine's memoised verdicts agree with muted_by's plain ones."""
    firing = [fp for fp, a in state.alerts.items() if a.status == "firing"]
    mutes = Mutes(state.alerts, firing, cfg.inhibit, silences, now)
    plain = muted_by(state, cfg, silences, now)
    assert {fp for fp in firing if mutes.muted(fp)} == {fp for fp in firing if fp in plain}


def drain(run: Run, n: int = 8) -> None:
    """Every condition clears; enough time passes for every notice to go out."""
    for i in range(n):
        run.tick(10_000 + i, 500.0, (), [])


@settings(max_examples=150, deadline=None)
@given(history=ticks, broken=brokens, data=st.data())
def test_a_restart_between_any_two_ticks_changes_nothing(
        history: list[Tick], broken: frozenset[str], data: st.DataObject) -> None:
    restarts = data.draw(st.frozensets(st.integers(0, len(history))))
    straight, restarted = Run(CFG, broken), Run(CFG, broken, restart_at=restarts)
    straight.play(history)
    restarted.play(history)
    assert restarted.sent == straight.sent
    assert restarted.changes == straight.changes
    assert restarted.state == straight.state


@settings(max_examples=150, deadline=None)
@given(history=ticks, broken=brokens)
def test_every_page_is_closed_and_nothing_is_kept_once_all_clears(
        history: list[Tick], broken: frozenset[str]) -> None:
    run = Run(CFG, broken)
    run.play(history)
    drain(run)
    assert run.state == EngineState(), "zombie alerts or groups after everything cleared"
    ids = [n.id for n in run.sent]
    assert len(ids) == len(set(ids)), "a notification id was reused"
    # Per receiver and group: everything ever listed firing was later listed resolved.
    open_: dict[tuple[str, str], set[str]] = {}
    for n in run.sent:
        seen = open_.setdefault((n.receiver, n.group_key), set())
        seen |= {a.fingerprint for a in n.firing}
        seen -= {a.fingerprint for a in n.resolved}
    assert {k: v for k, v in open_.items() if v} == {}, "an orphaned page"


@settings(max_examples=100, deadline=None)
@given(history=ticks, broken=brokens)
def test_kinds_follow_the_episode(history: list[Tick], broken: frozenset[str]) -> None:
    run = Run(CFG, broken)
    run.play(history)
    drain(run)
    episodes: dict[tuple[str, str], str | None] = {}
    for n in run.sent:
        if n.route == "alertmanager":
            continue
        gid = (n.receiver, n.group_key)
        if n.kind == "firing":
            assert episodes.get(gid) is None, "a second opening inside one episode"
            assert n.firing
            assert not n.resolved
            episodes[gid] = n.episode
        else:
            assert episodes.get(gid) == n.episode, "a follow-up outside its episode"
            if n.kind == "reminder":
                assert n.firing
                assert not n.resolved
            if n.kind == "resolved":
                assert not n.firing
        if n.kind == "resolved" and not n.firing:
            # Closed unless a muted notified alert still fires (then a later
            # "resolved" continues the same episode).
            episodes[gid] = None if _closed_after(run, n) else n.episode


def _closed_after(run: Run, n: Notification) -> bool:
    later = [x for x in run.sent[run.sent.index(n) + 1:]
             if (x.receiver, x.group_key) == (n.receiver, n.group_key)]
    return not later or later[0].episode != n.episode
