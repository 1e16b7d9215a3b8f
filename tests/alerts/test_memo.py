"""What the evaluation keeps between ticks changes its cost, never its result.

:class:`~alerts.evaluation.RuleMemo` (rules) and :class:`~alerts.engine.StepMemo`
(state machine) let a tick reuse what the previous one decided for targets and alerts
that did not change.  Over random histories (targets failing, recovering, excluded,
relabelled; thresholds changed; silences; restarts that rebuild every object), a run
with the memos must give exactly what a run without them gives, tick by tick.  The
mute verdicts are checked against the plain definitions they replace.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.config import AlertsConfig, RulesConfig
from alerts.engine import StepMemo, muted_by, step
from alerts.evaluation import RuleMemo
from alerts.facts import ChannelFacts, RuleInputs, TargetFacts
from alerts.inhibit import Inhibitor
from alerts.model import Signal, Silence, fingerprint
from alerts.mutes import Mutes
from alerts.routing import Router
from alerts.rules import evaluate
from alerts.silences import active_silences, silenced_by
from alerts.store import EngineState
from tests.alerts.engine_support import config, route, silence
from tests.alerts.test_engine_restart import CFG, SILENCES, Run, signals_of, ticks

NOW = 1_800_000_000.0
TARGETS = (("a0", "app"), ("a1", "app"), ("a2", "app"), ("b0", "branch"), ("b1", "branch"))
LABELS = ((), (("severity", "page"),), (("team", "ops"),))
REASONS = ("timeout", "connect_refused")
RULE_SETS = (RulesConfig(), RulesConfig(target_down_after=2, target_down_resolve_after=1,
                                        channel_down_share=0.6))
ENGINE = config(route("branch", "channel=branch"), route("pages", "severity=page"),
                default=route("default"))
MUTE_SILENCES: tuple[tuple[Silence, ...], ...] = (
    (), (silence("target=a1"),), (silence("channel=branch", sid="s2"),),
    (silence("severity=page", sid="s3"), silence("target=~b.", sid="s4")))

# Per target and tick: (failures, successes, excluded, reason, labels index)
TargetTick = tuple[int, int, bool, int, int]
target_ticks = st.tuples(st.integers(0, 4), st.integers(0, 3), st.booleans(),
                         st.integers(0, len(REASONS) - 1), st.integers(0, len(LABELS) - 1))
# One tick: seconds since the last, thresholds, silences, every target's facts.
RuleTick = tuple[float, int, int, tuple[TargetTick, ...]]
rule_ticks = st.lists(
    st.tuples(st.sampled_from((1.0, 5.0, 30.0, 600.0)), st.integers(0, len(RULE_SETS) - 1),
              st.integers(0, len(MUTE_SILENCES) - 1),
              st.tuples(*(target_ticks for _ in TARGETS))),
    min_size=1, max_size=12)


def _facts(name: str, channel: str, t: TargetTick, now: float) -> TargetFacts:
    failures, successes, excluded, reason, labels = t
    if failures:
        successes = 0
    return TargetFacts(
        name=name, channel=channel, kind="tcp", labels=LABELS[labels],
        consecutive_failures=failures, consecutive_successes=successes,
        failing_since=now - 10.0 * failures if failures else None,
        last_reason=REASONS[reason], last_detail="refused", last_at=now - 1.0,
        excluded="maintenance:m" if excluded else None)


class _Reuse:
    """Facts as the runtime's FactsCache hands them out: the very same object while a
    target's facts are unchanged."""

    def __init__(self) -> None:
        self.last: dict[str, TargetFacts] = {}

    def __call__(self, facts: TargetFacts) -> TargetFacts:
        old = self.last.get(facts.name)
        if old is not None and old == facts:
            return old
        self.last[facts.name] = facts
        return facts


@dataclasses.dataclass
class _Side:
    """One run: with memos or without."""

    memo: bool
    config: AlertsConfig = ENGINE
    state: EngineState = dataclasses.field(default_factory=EngineState)
    rules: RuleMemo = dataclasses.field(default_factory=RuleMemo)
    steps: StepMemo = dataclasses.field(default_factory=StepMemo)

    def tick(self, inputs: RuleInputs, rules: RulesConfig,
             silences: Sequence[Silence]) -> tuple[list[Signal], object]:
        signals = evaluate(inputs, rules, self.state.alerts,
                           self.rules if self.memo else None)
        for s in signals:  # a kept fingerprint is the fingerprint
            assert s.fingerprint == fingerprint(s.labels)
        new, change = step(self.state, signals, now=inputs.now, config=self.config,
                           silences=silences, memo=self.steps if self.memo else None)
        self.state = new
        return signals, change


@settings(max_examples=200, deadline=None)
@given(history=rule_ticks, restarts=st.frozensets(st.integers(0, 12)))
def test_rules_and_engine_with_memos_decide_exactly_as_without(
        history: list[RuleTick], restarts: frozenset[int]) -> None:
    plain, memo = _Side(memo=False), _Side(memo=True)
    reuse = _Reuse()
    channels = (ChannelFacts("app", (), ("a0", "a1", "a2")),
                ChannelFacts("branch", (("team", "branch-ops"),), ("b0", "b1")))
    now = NOW
    for i, (dt, rules_ix, sil_ix, per_target) in enumerate(history):
        now += dt
        if i in restarts:  # a restart: every alert a new object, the memos kept
            memo.state = EngineState(
                alerts={k: dataclasses.replace(a, labels=tuple(list(a.labels)))
                        for k, a in memo.state.alerts.items()},
                groups=dict(memo.state.groups))
        facts = tuple(reuse(_facts(n, c, t, now)) for (n, c), t in zip(TARGETS, per_target,
                                                                        strict=True))
        # Configuration order, not the rules' (channel, name) order.
        inputs = RuleInputs(now=now, targets=facts[::-1], channels=channels)
        rules, silences = RULE_SETS[rules_ix], MUTE_SILENCES[sil_ix]
        assert memo.tick(inputs, rules, silences) == plain.tick(inputs, rules, silences)
        assert memo.state == plain.state


def _plain_muted_by(state: EngineState, cfg: AlertsConfig, silences: Sequence[Silence],
                    now: float) -> dict[str, tuple[str, ...]]:
    """muted_by as first written: every alert matched on its own."""
    labels = {fp: dict(a.labels) for fp, a in state.alerts.items()}
    active = active_silences(silences, now)
    inhibitor = Inhibitor(cfg.inhibit, ((fp, labels[fp]) for fp, a in state.alerts.items()
                                        if a.status == "firing"))
    out: dict[str, tuple[str, ...]] = {}
    for fp in sorted(labels):
        why = (*silenced_by(labels[fp], active),
               *(f"inhibited:{src}" for src in inhibitor.inhibited_by(labels[fp])))
        if why:
            out[fp] = why
    return out


def _check_mutes(state: EngineState, cfg: AlertsConfig, silences: Sequence[Silence],
                 now: float, memo: StepMemo) -> None:
    got = muted_by(state, cfg, silences, now)
    assert got == _plain_muted_by(state, cfg, silences, now)
    assert list(got) == sorted(got)
    firing = [fp for fp, a in state.alerts.items() if a.status == "firing"]
    mutes = Mutes(state.alerts, firing, cfg.inhibit, silences, now, memo.projections)
    for fp in firing:
        reasons = got.get(fp, ())
        kind = mutes.kind(fp)
        if any(not r.startswith("inhibited:") for r in reasons):
            assert kind == "silenced"
        else:
            assert kind == ("inhibited" if reasons else None)
    # A group's members share its group_by labels: one verdict may stand for all.
    for (route_name, _), fps in _members(state, cfg).items():
        owner = next(r for r in (*cfg.routes, cfg.default_route) if r.name == route_name)
        assert mutes.any_unmuted(fps, owner.group_by) == any(not mutes.muted(f) for f in fps)


def _members(state: EngineState, cfg: AlertsConfig) -> Mapping[tuple[str, str], list[str]]:
    router = Router(cfg)
    out: dict[tuple[str, str], list[str]] = {}
    for fp, a in state.alerts.items():
        if a.status == "firing":
            for gid, _ in router.groups(a.labels):
                out.setdefault(gid, []).append(fp)
    return out


@settings(max_examples=150, deadline=None)
@given(history=ticks)
def test_mute_verdicts_by_projection_agree_with_matching_every_alert(
        history: list[tuple[float, int, tuple[int, ...]]]) -> None:
    run, memo = Run(CFG, frozenset()), StepMemo()
    for i, (dt, sil, states) in enumerate(history):
        run.tick(i, dt, SILENCES[sil], signals_of(states))
        _check_mutes(run.state, CFG, SILENCES[sil], run.now, memo)


@settings(max_examples=150, deadline=None)
@given(history=ticks, restarts=st.frozensets(st.integers(0, 25)),
       broken=st.sampled_from([frozenset(), frozenset({"branch/slack"})]))
def test_the_engine_with_a_step_memo_steps_exactly_as_without(
        history: list[tuple[float, int, tuple[int, ...]]], restarts: frozenset[int],
        broken: frozenset[str]) -> None:
    plain, kept = EngineState(), EngineState()
    memo, now = StepMemo(), 1000.0
    made: dict[tuple[int, int], list[Signal]] = {}
    for i, (dt, sil, states) in enumerate(history):
        now += dt
        if i in restarts:
            kept = EngineState(alerts={k: dataclasses.replace(a, labels=tuple(list(a.labels)))
                                       for k, a in kept.alerts.items()},
                               groups=dict(kept.groups))
        # The same signal objects while a signal is unchanged, as the rules' memo does.
        signals = made.setdefault((i % 3, hash(states)), signals_of(states))
        want = step(plain, signals, now=now, config=CFG, silences=SILENCES[sil],
                    broken=broken)
        got = step(kept, signals, now=now, config=CFG, silences=SILENCES[sil],
                   broken=broken, memo=memo)
        assert got == want
        plain, kept = want[0], got[0]
