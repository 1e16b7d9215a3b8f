"""The entry point: :func:`run_check` runs one consistency check and returns its reports.

Synchronous on purpose: sources use blocking drivers; the scheduler and the CLI run it in
a worker thread.  It never raises for a broken source: that channel's report carries
``error`` (and no ratio), as a probe returns a failed result instead of raising.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

from monitor.consistency.cancel import CancelScope
from monitor.consistency.checksum import checksum_pair
from monitor.consistency.compare import ComparePlan, Head, SortedGroups, compare_streams
from monitor.consistency.errors import SourceError
from monitor.consistency.model import (
    ConsistencyConfig,
    ConsistencyReport,
    Key,
    Outcome,
    SourceRecord,
)
from monitor.consistency.progress import (
    FINISHED,
    STREAMING,
    CheckProgress,
    ProgressSink,
    counted,
)
from monitor.consistency.report import Tally, wilson_interval
from monitor.consistency.sources import RecordSource, open_source, supports_checksum
from monitor.consistency.sources.sql import SqlSource
from monitor.consistency.streams import chunked

MODES = ("full", "checksum", "sample")
INCREMENTAL_CHUNK_KEYS = 1000


def estimate_rows(source: RecordSource) -> int | None:
    """The source's own cheap row estimate, for progress only: never fails a check."""
    if not isinstance(source, SqlSource):
        return None
    try:
        return source.estimate_rows()
    except SourceError:
        return None


def _streaming(progress: ProgressSink, channels: tuple[str, ...], total: int | None
               ) -> Callable[[int], None]:
    return lambda rows: progress(CheckProgress(channels, STREAMING, rows, total))


def _full(plan: ComparePlan, config: ConsistencyConfig, ref: RecordSource,
          channels: Mapping[str, RecordSource], now: datetime,
          progress: ProgressSink | None = None) -> dict[str, Tally]:
    if (config.workers > 1 and len(config.key) == 1 and isinstance(ref, SqlSource)
            and all(isinstance(s, SqlSource) for s in channels.values())):
        return _partitioned(config, ref, tuple(channels), now, progress)
    records: Iterator[SourceRecord] = ref.stream()
    if progress is not None:
        records = counted(records, _streaming(progress, tuple(channels), estimate_rows(ref)))
    return compare_streams(
        plan, ref.name, records, {name: src.stream() for name, src in channels.items()},
        now, config.max_samples)


def _partition(config: ConsistencyConfig, channels: tuple[str, ...], low: str | None,
               high: str | None, now: datetime, rows: queue.Queue[tuple[int, int]] | None = None,
               number: int = 0) -> dict[str, Tally]:
    """One key range of a full check, in a worker process: the same merge, fewer rows.
    With ``rows`` (a manager's queue), the reference rows read so far are sent there."""
    sources = {s.name: open_source(config, s) for s in config.sources}

    def part(name: str) -> Iterator[SourceRecord]:
        src = sources[name]
        assert isinstance(src, SqlSource)
        return src.stream_range(low, high)

    records = part(config.reference)
    if rows is not None:
        sink = rows
        records = counted(records, lambda n: sink.put((number, n)))
    return compare_streams(ComparePlan.from_config(config), config.reference,
                           records, {c: part(c) for c in channels}, now,
                           config.max_samples)


def _relay(rows: queue.Queue[tuple[int, int]], futures: Sequence[Future[dict[str, Tally]]],
           report: Callable[[int], None]) -> None:
    """Pass the workers' row counts on (summed) until every worker is done; the last
    report is exact, as each worker sends its final count before it returns."""
    per_part = [0] * len(futures)
    finished = False
    while True:
        try:
            number, n = rows.get(timeout=0.25) if not finished else rows.get_nowait()
        except queue.Empty:
            if finished:
                return
            finished = all(f.done() for f in futures)
            continue
        per_part[number] = n
        report(sum(per_part))


def _partitioned(config: ConsistencyConfig, ref: SqlSource, channels: tuple[str, ...],
                 now: datetime, progress: ProgressSink | None = None) -> dict[str, Tally]:
    """Full mode on ``config.workers`` cores: the reference's key space is cut into equal
    ranges and each worker process merges one range of every source.  Python spends a
    few microseconds per row, so this is what brings 10^6 rows by 4 sources into seconds."""
    totals = {c: Tally(ref.name, c, config.max_samples) for c in channels}
    try:
        cuts: list[str | None] = [*ref.split_keys(config.workers)]
    except SourceError as exc:
        for t in totals.values():
            t.fail(str(exc))
        return totals
    bounds = list(zip([None, *cuts], [*cuts, None], strict=True))
    # spawn, not fork: run_check is usually called from a thread of a running service.
    context = multiprocessing.get_context("spawn")
    with ExitStack() as stack:
        rows: queue.Queue[tuple[int, int]] | None = None
        if progress is not None:
            # A manager's queue can be handed to a pool's task (a plain one cannot); its
            # process is started only when someone watches.
            rows = stack.enter_context(context.Manager()).Queue()
        pool = stack.enter_context(ProcessPoolExecutor(max_workers=len(bounds),
                                                       mp_context=context))
        futures = [pool.submit(_partition, config, channels, lo, hi, now, rows, i)
                   for i, (lo, hi) in enumerate(bounds)]
        if progress is not None and rows is not None:
            _relay(rows, futures, _streaming(progress, channels, estimate_rows(ref)))
        for f in futures:
            for c, part in f.result().items():
                totals[c].merge(part)
    return totals


def _by_keys(plan: ComparePlan, config: ConsistencyConfig, ref: RecordSource,
             channels: Mapping[str, RecordSource], keys: Iterator[list[Key]],
             now: datetime) -> dict[str, Tally]:
    """Compare the records of each chunk of (sorted, distinct) keys."""
    totals = {c: Tally(ref.name, c, config.max_samples) for c in channels}
    for chunk in keys:
        live = {c: s for c, s in channels.items() if totals[c].error is None}
        if not live:
            break
        parts = compare_streams(plan, ref.name, ref.fetch(chunk),
                                {c: s.fetch(chunk) for c, s in live.items()}, now,
                                config.max_samples)
        for c, part in parts.items():
            totals[c].merge(part)
    return totals


def _key(head: Head | None) -> Key | None:
    return None if head is None else head[0]


def _changed_keys(ref: RecordSource, channels: Mapping[str, RecordSource], since: datetime,
                  null_keys: dict[str, int]) -> Iterator[Key]:
    """Distinct keys changed since ``since`` on any side, in order (one merge of streams)."""
    groups = [SortedGroups(s.name, s.stream(since)) for s in (ref, *channels.values())]
    try:
        heads: list[Key | None] = [_key(next(g, None)) for g in groups]
        while True:
            live = [h for h in heads if h is not None]
            if not live:
                break
            k = min(live)
            yield k
            for i, g in enumerate(groups):
                if heads[i] == k:
                    heads[i] = _key(next(g, None))
        null_keys.update((g.name, g.null_keys) for g in groups)
    finally:
        for g in groups:
            g.close()


def _sample(plan: ComparePlan, config: ConsistencyConfig, ref: RecordSource,
            channels: Mapping[str, RecordSource], now: datetime, seed: int
            ) -> dict[str, Tally]:
    try:
        keys = sorted(set(ref.sample_keys(config.sample_size, seed)))
    except SourceError as exc:
        failed = {c: Tally(ref.name, c, config.max_samples) for c in channels}
        for t in failed.values():
            t.fail(str(exc))
        return failed
    return _by_keys(plan, config, ref, channels, chunked(keys, INCREMENTAL_CHUNK_KEYS), now)


def run_check(config: ConsistencyConfig, *, mode: str | None = None,
              channels: Sequence[str] | None = None, now: datetime | None = None,
              since: datetime | None = None, seed: int | None = None,
              sources: Mapping[str, RecordSource] | None = None,
              cancel: CancelScope | None = None,
              progress: ProgressSink | None = None) -> list[ConsistencyReport]:
    """Check ``channels`` (default: all) against the reference; one report per channel.

    ``mode`` is ``full``, ``checksum`` or ``sample`` (default: ``config.mode``).  With
    ``since`` (an ``updated_at`` watermark) only keys changed since then on either side
    are compared, and each report's ``next_watermark`` is where the next run should
    start.  ``now`` anchors the grace window.  ``sources`` replaces the configured
    adapters by name (custom sources).  ``cancel`` lets another thread end the check
    (its database connections closed, its statements ended; the reports it then returns
    say ``cancelled`` and should be dropped).  ``progress`` is told how far the check is
    (:mod:`monitor.consistency.progress`; full and checksum modes), from this thread.
    Raises ``ValueError`` only for bad arguments.
    """
    mode = mode or config.mode
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    names = tuple(channels) if channels else config.channels
    unknown = [c for c in names if c not in config.channels]
    if unknown:
        raise ValueError(f"not a channel of this check: {', '.join(unknown)}")
    now = now or datetime.now(UTC)
    started_at, t0 = now, time.monotonic()
    given = dict(sources or {})
    opened = {s.name: given.get(s.name) or open_source(config, s, cancel)
              for s in config.sources
              if s.name == config.reference or s.name in names}
    ref = opened[config.reference]
    chans = {c: opened[c] for c in names}
    plan = ComparePlan.from_config(config)
    used: dict[str, str] = dict.fromkeys(names, mode)
    interval: dict[str, tuple[float, float] | None] = {}
    if since is not None:
        if mode != "full":
            raise ValueError("incremental runs (since) compare in full mode only")
        null_keys: dict[str, int] = {}
        try:
            tallies = _by_keys(plan, config, ref, chans,
                               chunked(_changed_keys(ref, chans, since, null_keys),
                                       INCREMENTAL_CHUNK_KEYS), now)
            for c, t in tallies.items():  # changed records without a usable key
                t.add(Outcome.INVALID, null_keys.get(ref.name, 0) + null_keys.get(c, 0))
        except SourceError as exc:
            tallies = {c: Tally(ref.name, c, config.max_samples) for c in chans}
            for t in tallies.values():
                t.fail(str(exc))
        for c in names:
            used[c] = "incremental"
    elif mode == "sample":
        tallies = _sample(plan, config, ref, chans, now,
                          seed if seed is not None else random.randrange(1 << 30))
        for c, t in tallies.items():
            judged = sum(t.counts[o] for o in Outcome if o is not Outcome.PENDING_SYNC)
            interval[c] = wilson_interval(t.counts[Outcome.MATCH], judged)
    elif mode == "checksum":
        tallies = {}
        streamed: dict[str, RecordSource] = {}
        for c, src in chans.items():
            if supports_checksum(ref) and supports_checksum(src):
                got = checksum_pair(plan, ref, src, config.checksum, now, config.max_samples,
                                    progress)
                if got is not None:
                    tallies[c] = got
                    continue
                used[c] = "checksum-dense-full"
            else:
                used[c] = "full"
            streamed[c] = src
        if streamed:
            tallies.update(_full(plan, config, ref, streamed, now, progress))
    else:
        tallies = _full(plan, config, ref, chans, now, progress)
    duration = time.monotonic() - t0
    if progress is not None:
        progress(CheckProgress(names, FINISHED, 0))
    watermark = now - timedelta(seconds=config.grace_seconds)
    return [tallies[c].finish(mode=used[c], started_at=started_at, duration_seconds=duration,
                              objective=config.objective, interval=interval.get(c),
                              next_watermark=watermark)
            for c in names]
