"""What the demo prints while it runs: one event line per thing worth seeing, as it
happens, and on a terminal a periodic status block.

Event lines are ``HH:MM:SS  KIND  text`` (continuation lines indented under the text),
with KIND one of ``probe``, ``closed``/``open`` (exclusions starting and ending),
``check`` (a consistency result that changed) and ``slack`` (a message the local Slack
received).  They are printed whether or not the output is a terminal, so a pipe or a log
file gets the story too; the status block (per channel: targets up, SLI, fastest burn,
burn-rate status) is for people watching a terminal and is left out of pipes.

Only names, counts, reasons and the monitor's own messages are printed, never a record's
value: consistency lines give counts and field names, as the reports do.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from monitor.consistency.jobs import ConsistencyState
from monitor.consistency.model import ConsistencyReport, Outcome
from monitor.demo.slack_sink import SlackEvent
from monitor.metrics.state import ProbeState, TargetState
from monitor.slo.budget import SloStatus
from monitor.slo.exclusions import Exclusions

KIND_WIDTH = 7
SLACK_LINES = 3  # a message's heading and its first alerts; the rest is in the page


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.3f}%"


@dataclass(slots=True)
class _Seen:
    version: int = 0
    excluded: str | None = None
    failures: int = 0  # consecutive counted failures when last looked at


@dataclass(slots=True)
class Narrator:
    """Prints event lines to ``out``; remembers what it printed so that only changes are
    printed again."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    clock: Callable[[], float] = time.time
    _targets: dict[str, _Seen] = field(default_factory=dict)
    _checks: dict[tuple[str, str], tuple[float | None, str | None]] = field(
        default_factory=dict)
    _runs: int = 0

    def line(self, kind: str, text: str, more: Iterable[str] = ()) -> None:
        # UTC, as the banner's opening hours and the Slack texts are: one clock on screen.
        stamp = time.strftime("%H:%M:%S", time.gmtime(self.clock()))
        pad = " " * (len(stamp) + 2 + KIND_WIDTH + 2)
        lines = [f"{stamp}  {kind:<{KIND_WIDTH}}  {text}", *(pad + m for m in more)]
        print("\n".join(lines), file=self.out, flush=True)

    # --- probes -----------------------------------------------------------------------

    def probes(self, state: ProbeState, exclusions: Exclusions) -> None:
        """A line for every target that went down or came back (counted results), and
        for every one whose results stopped or started being counted."""
        for st in state.targets.values():
            seen = self._targets.setdefault(st.target, _Seen())
            if st.last is None or st.version == seen.version:
                continue
            seen.version = st.version
            excluded = exclusions.reason(st.channel, st.target,
                                         st.last.started_at or self.clock())
            if excluded != seen.excluded:
                self._exclusion(st, seen.excluded, excluded)
                seen.excluded = excluded
            if excluded is not None:
                continue
            if not st.last.success and seen.failures == 0:
                self.line("probe", f"{st.target} ({st.channel}) failed: {st.last.reason}"
                          + (f": {st.last.message}" if st.last.message else ""))
            elif st.last.success and seen.failures > 1:
                # A lone failure (the flaky website) needs no "up again" line of its own.
                self.line("probe", f"{st.target} ({st.channel}) is up again after "
                          f"{seen.failures} failed probes")
            seen.failures = st.consecutive_failures

    def _exclusion(self, st: TargetState, was: str | None, now: str | None) -> None:
        if now is not None:
            why = ("outside its channel's service hours" if now == "service_hours"
                   else f"in maintenance window {now.split(':', 1)[1]}")
            assert st.last is not None
            self.line("closed", f"{st.target} ({st.channel}) is {why}: its probes "
                      f"are not counted (this one: {st.last.result_label})")
        elif was is not None:
            self.line("open", f"{st.target} ({st.channel}): probes are counted again")

    # --- consistency --------------------------------------------------------------------

    def consistency(self, state: ConsistencyState) -> None:
        """After a check: a line per dataset and channel whose result changed."""
        if state.runs == self._runs:
            return
        self._runs = state.runs
        for (dataset, channel), report in sorted(state.latest.items()):
            verdict = (report.ratio, report.error)
            if self._checks.get((dataset, channel)) == verdict:
                continue
            self._checks[(dataset, channel)] = verdict
            self.line("check", check_text(report))

    # --- Slack --------------------------------------------------------------------------

    def slack(self, event: SlackEvent) -> None:
        lines = [ln for ln in event.text.splitlines() if ln.strip()] or ["(no text)"]
        mark = {"post": "", "reply": "↳ ", "update": "(message edited) "}[event.kind]
        # An edit rewrites a message already shown: its heading says enough.
        more = [] if event.kind == "update" else lines[1:SLACK_LINES]
        self.line("slack", f"{event.channel}  {mark}{lines[0]}", more)


def check_text(r: ConsistencyReport) -> str:
    """One consistency report in a line: ratio against objective, then the counts."""
    where = f"{r.dataset} {r.channel} vs {r.reference}"
    if r.error is not None:
        return f"{where}: check failed ({r.error})"
    c = r.counts
    verdict = "meets" if r.meets_objective else "BELOW"
    parts = [f"{c.get(Outcome.MATCH, 0)}/{r.judged} match"]
    if n := c.get(Outcome.MISMATCH, 0):
        fields = ", ".join(sorted(r.field_mismatches))
        parts.append(f"{n} mismatch ({fields})")
    for outcome, label in ((Outcome.MISSING, "missing"), (Outcome.EXTRA, "extra"),
                           (Outcome.INVALID, "invalid"), (Outcome.DUPLICATE_KEY, "duplicate"),
                           (Outcome.PENDING_SYNC, "pending sync")):
        if n := c.get(outcome, 0):
            parts.append(f"{n} {label}")
    return (f"{where}: {_percent(r.ratio)} {verdict} {_percent(r.objective)} · "
            + " · ".join(parts))


def status_block(now: float, elapsed: float, state: ProbeState,
                 statuses: Sequence[SloStatus], exclusions: Exclusions,
                 channels: Sequence[str]) -> str:
    """The periodic status: per channel its targets' latest results and its SLO (SLI over
    the last hour, the fastest burn rate, the burn-rate status)."""
    by_slo: Mapping[str, SloStatus] = {s.spec.name: s for s in statuses}
    rows = [f"── status at {time.strftime('%H:%M:%S', time.gmtime(now))} UTC, "
            f"{elapsed:.0f}s in " + "─" * 40]
    for channel in channels:
        targets = [st for st in state.targets.values() if st.channel == channel]
        shown = []
        for st in targets:
            if st.last is None:
                shown.append(f"{st.target} pending")
                continue
            why = exclusions.reason(channel, st.target, st.last.started_at or now)
            shown.append(f"{st.target} {st.last.result_label}"
                         + (f" (not counted: {why})" if why else ""))
        s = by_slo.get(channel)
        slo = "SLO no data"
        if s is not None and s.availability.has_data:
            burn = s.availability.current_burn_rate
            latency = "" if s.latency is None else f" (latency {s.latency.alert.upper()})"
            slo = (f"SLI {_percent(s.availability.sli.get('1h'))} · burn "
                   f"{'n/a' if burn is None else f'{burn:.1f}x'} · "
                   f"{s.availability.alert.upper()}{latency}")
        rows.append(f"  {channel:<12} {slo:<52} {' · '.join(shown)}")
    return "\n".join(rows)
