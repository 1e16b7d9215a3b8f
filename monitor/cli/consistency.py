"""``omniwatch consistency check`` and ``history``: cross-channel record consistency.

On a terminal a check shows that it is running (it may read millions of rows); with
``--json`` or when piped it prints only the result.  Values are masked everywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from monitor.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    check_output,
    duration_arg,
)
from monitor.cli.consistency_progress import ProgressLine
from monitor.config.model import Config
from monitor.consistency.cancel import CancelScope
from monitor.consistency.jobs import check_now
from monitor.consistency.model import ConsistencyConfig, ConsistencyReport, Outcome
from monitor.consistency.report import report_to_dict
from monitor.store import StoreUnavailable, open_store
from monitor.tables import format_table

_COLUMNS = (Outcome.MATCH, Outcome.MISMATCH, Outcome.MISSING, Outcome.EXTRA, Outcome.INVALID,
            Outcome.DUPLICATE_KEY, Outcome.PENDING_SYNC)


def render_reports(reports: Sequence[ConsistencyReport], named: bool = False) -> str:
    """A row per channel, then fields that differ most and masked example keys; with
    ``named`` (a section of several datasets) rows and notes say the dataset too."""
    head = [*(["DATASET"] if named else []), "CHANNEL", "MODE", "RATIO", "OBJECTIVE",
            *[str(o).upper() for o in _COLUMNS], "STATUS"]
    rows = [head]
    notes: list[str] = []
    for r in reports:
        where = f"{r.dataset}/{r.channel}" if named else r.channel
        status = "FAILED" if not r.success else ("OK" if r.meets_objective else "BELOW")
        ratio = "n/a" if r.ratio is None else f"{r.ratio * 100:.3f}%"
        if r.interval is not None:
            ratio += f" [{r.interval[0] * 100:.2f}-{r.interval[1] * 100:.2f}]"
        counts = ["-"] * len(_COLUMNS) if not r.success else [
            str(r.counts.get(o, 0)) for o in _COLUMNS]
        rows.append([*([r.dataset] if named else []), r.channel, r.mode, ratio,
                     f"{r.objective * 100:g}%", *counts, status])
        if r.error is not None:
            notes.append(f"{where}: check failed: {r.error}")
            continue
        worst = sorted(r.field_mismatches.items(), key=lambda kv: -kv[1])[:5]
        if worst:
            notes.append(f"{where}: fields that differ: "
                         + ", ".join(f"{f} ({n})" for f, n in worst))
        examples = [s for s in r.samples if s.outcome != Outcome.MATCH][:5]
        if examples:  # under their own channel's heading, never the previous channel's
            notes.append(f"{where}: example keys (values masked):")
        for s in examples:
            detail = s.reason or "; ".join(
                f"{d.field}: {d.reference} vs {d.channel}" for d in s.diffs)
            notes.append(f"  {s.key}  {s.outcome}  {detail}".rstrip())
    return "\n".join([*format_table(rows), *(["", *notes] if notes else [])])


def write_mismatches(path: Path, reports: Sequence[ConsistencyReport]) -> int:
    """The sampled non-matching keys as CSV (masked values); returns rows written."""
    n = 0
    # Keys with broken bytes (lone surrogates) are written escaped: \udcff.
    with path.open("w", newline="", encoding="utf-8", errors="backslashreplace") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "reference", "channel", "key", "outcome", "field", "reference_value",
                    "channel_value", "reason"])
        for r in reports:
            for s in r.samples:
                if s.outcome == Outcome.MATCH:
                    continue
                for d in s.diffs or [None]:
                    w.writerow([r.dataset, r.reference, r.channel, s.key, str(s.outcome),
                                d.field if d else "", d.reference if d else "",
                                d.channel if d else "", s.reason or ""])
                    n += 1
    return n


def select(config: Config, datasets: Sequence[str] | None, channels: Sequence[str] | None
           ) -> list[tuple[ConsistencyConfig, list[str] | None]]:
    """The datasets to check (default: all), each with its channels to check (``None``:
    all); a dataset without any of the ``channels`` asked for is left out.  Raises
    :class:`UsageError` for a name that is no dataset, a channel no selected dataset
    has, or a reference asked for as a channel."""
    names = [c.dataset for c in config.consistency]
    unknown = [d for d in datasets or () if d not in names]
    if unknown:
        raise UsageError(f"unknown dataset {', '.join(map(repr, unknown))} "
                         f"(datasets: {', '.join(names)})")
    chosen = [c for c in config.consistency if not datasets or c.dataset in datasets]
    known = sorted({ch for c in chosen for ch in c.channels})
    refs = {c.reference for c in chosen}
    wrong = [ch for ch in channels or () if ch not in known]
    for ch in wrong:
        if ch in refs:
            raise UsageError(f"{ch!r} is the reference: every channel is compared with it; "
                             f"choose a channel to check (channels: {', '.join(known)})")
    if wrong:
        raise UsageError(f"unknown channel {', '.join(map(repr, wrong))} "
                         f"(channels: {', '.join(known)})")
    if not channels:
        return [(c, None) for c in chosen]
    return [(c, [ch for ch in c.channels if ch in channels]) for c in chosen
            if any(ch in channels for ch in c.channels)]


@contextlib.contextmanager
def interruptible(scope: CancelScope) -> Iterator[None]:
    """Ctrl-C ends the check's statements (``scope``) before it interrupts: the check
    waits for its worker threads, and one statement may sum millions of rows for tens of
    seconds, so an interrupt alone took effect only when the database answered."""
    def interrupted(signum: int, frame: FrameType | None) -> None:
        scope.cancel()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    """Run a check now (each selected dataset in turn); exit 1 if a channel failed or is
    under its objective."""
    if not config.consistency:
        print(f"omniwatch consistency: {args.config} has no consistency: section",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        plan = select(config, args.dataset, args.channel)
    except UsageError as exc:
        print(f"omniwatch consistency: {exc.messages[0]}", file=sys.stderr)
        return EXIT_USAGE
    mismatches = None if args.mismatches is None else check_output("--mismatches",
                                                                    args.mismatches)
    store: Any = None
    if not args.no_history:
        try:
            store = open_store(config.store)
        except StoreUnavailable as exc:
            print(f"omniwatch consistency: history not recorded: {exc}", file=sys.stderr)
    reports: list[ConsistencyReport] = []
    try:
        # Progress only for a person watching, as ``omniwatch probe`` does.
        with ProgressLine(sys.stderr, not args.json and sys.stderr.isatty()) as line:
            for cfg, channels in plan:
                scope = CancelScope()
                with interruptible(scope):
                    reports += check_now(cfg, store, mode=args.mode, channels=channels,
                                         cancel=scope, progress=line.sink(cfg.dataset))
    finally:
        if store is not None:
            store.close()
    if mismatches is not None:
        try:
            write_mismatches(mismatches, reports)
        except OSError as exc:
            raise UsageError(f"--mismatches {args.mismatches!r}: cannot write: "
                             f"{exc.strerror}") from None
    if args.json:
        print(json.dumps({"reports": [report_to_dict(r) for r in reports]}, indent=2))
    else:
        named = [c.dataset for c in config.consistency] != ["customers"]
        print(render_reports(reports, named))
    return EXIT_OK if all(r.meets_objective for r in reports) else EXIT_FAILED


def cmd_history(config: Config, args: argparse.Namespace) -> int:
    """Print stored consistency runs since ``--since`` ago."""
    since = duration_arg("--since", args.since)
    store = open_store(config.store)
    try:
        runs = store.consistency_history(time.time() - since, args.channel,
                                         datasets=args.dataset or ())
    finally:
        store.close()
    for r in runs:
        if not r["success"]:  # a failed run judged nothing: no counts to show
            r.update(ratio=None, judged=None, counts=None, field_mismatches=None)
    if args.json:
        print(json.dumps({"runs": runs}, indent=2))
        return EXIT_OK
    named = [c.dataset for c in config.consistency] != ["customers"]
    rows = [["STARTED", *(["DATASET"] if named else []), "CHANNEL", "MODE", "RATIO", "JUDGED",
             "STATUS"]]
    for r in runs:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio'] * 100:.3f}%"
        status = "FAILED" if not r["success"] else (
            "OK" if r["ratio"] is not None and r["ratio"] >= r["objective"] else "BELOW")
        rows.append([time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["started_at"])),
                     *([r["dataset"]] if named else []), r["channel"], r["mode"], ratio,
                     "-" if r["judged"] is None else str(r["judged"]), status])
    print("\n".join(format_table(rows)))
    return EXIT_OK
