"""How fast an alert reaches Slack, and what an evaluation tick costs in a storm.

Two measurements (issue 9), printed as one markdown block ready for
``docs/benchmarks.md``:

1. **Delay** (``bench/_alert_delay.py``): a real ``omniwatch run`` with ``--targets``
   http targets (1 s probe interval, ``target_down.after: 2``, the default
   ``evaluation_interval`` of 5 s, ``group_wait`` 2 s) against a loopback server that
   fails them on demand, alerts to the tests' local Slack (``tests/slack_server.py``).
   Every round fails all targets at once, waits for every post, then recovers them and
   waits for every resolve.  Delay = Slack accepting the post minus the failure that
   confirmed the alert; target: p99 within ``group_wait`` + 1 s.  Peer, in the same
   run: Alertmanager's delay from its API accepting an alert to its webhook call, with
   the same ``group_wait``.
2. **Storm** (``bench/_alert_storm.py``): 10,000 targets failing at once, in process:
   ``AlertingService.evaluate`` tick after tick on a real SQLite store; CPU per tick
   (target: < 50 ms in steady state) and RSS.

    .venv/bin/python bench/alerts.py [--quick] [--rounds 5] [--targets 20]
                                     [--storm-targets 10000] [--profile FILE] [--tree DIR]

``--quick`` (under a minute): two rounds, fewer steady ticks.  ``--profile FILE``
writes a cProfile of the storm's steady ticks (a sixth re-probed) and prints its top.
``--tree DIR`` measures another checkout (its packages first on the path, and the
``omniwatch run`` of the delay half from it), e.g. the commit before a change.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from datetime import date
from pathlib import Path


def _tree() -> Path:
    """The checkout to measure (``--tree DIR``), read before omniwatch is imported."""
    if "--tree" in sys.argv[:-1]:
        return Path(sys.argv[sys.argv.index("--tree") + 1]).resolve()
    return Path(__file__).resolve().parents[1]


# The checkout first: this script's own directory (first on the path when it runs)
# would otherwise make ``alerts`` this file instead of the package.
TREE = _tree()
sys.path.insert(0, str(TREE))
sys.path.insert(1, str(Path(__file__).resolve().parent))
from _alert_delay import AFTER, DelayResult, measure_alertmanager, measure_omniwatch  # noqa: E402
from _alert_storm import EVAL_INTERVAL, PROBE_INTERVAL, run_storm, storm_table  # noqa: E402

COMMAND = ".venv/bin/python bench/alerts.py"
MINUS, DASH, TIMES = "\N{MINUS SIGN}", "\N{EN DASH}", "\N{MULTIPLICATION SIGN}"


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile by nearest rank (the p99 of 60 values is the largest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


def delay_rows(ours: DelayResult, peer: DelayResult | None) -> list[str]:
    """The markdown rows of the delay figures."""
    gw = ours.group_wait
    rows = [f"| | episodes | p50 | p99 | max | p50 {MINUS} group_wait | target (p99) |",
            "|---|---|---|---|---|---|---|"]

    def row(name: str, r: DelayResult, target: str) -> str:
        d = r.delays
        missing = f" ({r.missing} missing)" if r.missing else ""
        return (f"| {name} | {len(d)}{missing} | {statistics.median(d):.2f} s | "
                f"{quantile(d, 0.99):.2f} s | {max(d):.2f} s | "
                f"{statistics.median(d) - gw:.2f} s | {target} |")

    rows.append(row("omniwatch: confirming failure \N{RIGHTWARDS ARROW} Slack accepted",
                    ours, f"\N{LESS-THAN OR EQUAL TO} {gw + 1:g} s"))
    if peer is not None and peer.delays:
        rows.append(row("Alertmanager: API accepted \N{RIGHTWARDS ARROW} webhook called",
                        peer, DASH))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run (under a minute)")
    parser.add_argument("--rounds", type=int, help="delay rounds (default 5, quick 2)")
    parser.add_argument("--targets", type=int, default=20, help="delay targets (default 20)")
    parser.add_argument("--group-wait", type=float, default=2.0)
    parser.add_argument("--storm-targets", type=int, default=10_000)
    parser.add_argument("--storm-channels", type=int, default=10)
    parser.add_argument("--no-delay", action="store_true", help="skip the delay half")
    parser.add_argument("--no-storm", action="store_true", help="skip the storm half")
    parser.add_argument("--profile", type=Path, metavar="FILE")
    parser.add_argument("--tree", type=Path, metavar="DIR",
                        help="measure the checkout in DIR (e.g. the commit before a change)")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    steady = 6 if args.quick else 20
    started = time.monotonic()
    flags = (" --quick" if args.quick else "") + (f" --tree {args.tree}" if args.tree else "")
    out = [f"Command: `{COMMAND}{flags}` ({date.today()})", ""]

    if not args.no_delay:
        ours = measure_omniwatch(args.targets, rounds, args.group_wait, TREE)
        peer = measure_alertmanager(args.targets, rounds, args.group_wait)
        out += [f"**Delay**: {args.targets} http targets, {rounds} rounds, group_wait "
                f"{args.group_wait:g} s, evaluation_interval 5 s (the default), probes every "
                f"1 s, target_down.after {AFTER}.", "", *delay_rows(ours, peer), ""]
        if peer is not None and peer.delays and ours.delays:
            ratio = statistics.median(ours.delays) / statistics.median(peer.delays)
            out += [f"Ratio of medians, omniwatch / Alertmanager: {ratio:.2f}{TIMES} "
                    "(Alertmanager's figure starts when it already has the alert; fed by "
                    "Prometheus it would first wait for a scrape and a rule evaluation).", ""]
        elif peer is None:
            out += ["(Alertmanager not installed: no peer figure.)", ""]

    if not args.no_storm:
        results = run_storm(args.storm_targets, args.storm_channels, steady, args.profile)
        out += ["**Storm**: CPU per `AlertingService.evaluate` tick (`time.process_time`, "
                "every thread: facts, rules, state machine, the SQLite write with its outbox "
                f"entries), evaluation every {EVAL_INTERVAL:g} s, probes every "
                f"{PROBE_INTERVAL:g} s, every target failing on the same tick; {steady} "
                "steady ticks of each kind.", "", *storm_table(results), ""]
    out.append(f"(whole run: {time.monotonic() - started:.0f} s)")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
