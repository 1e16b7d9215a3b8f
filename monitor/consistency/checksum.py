"""``checksum`` mode: let both databases hash rows; read only the rows that differ.

Two strategies, chosen per pair:

* **Key ranges** (``sources/ranges.py``), when both tables have one indexed text key
  column, whatever its collation: the reference's keys are cut into ranges by a sample;
  each database assigns rows to ranges by its own comparison; one indexed pass per side
  returns, per range, the text ``key || row hash`` of all its rows; equal texts are
  matches, differing ones are reconciled as sets *across* ranges
  (``monitor.consistency.reconcile``: collations may disagree on a key's range) and name
  exactly the differing keys.  One pass whatever the density of differences, and one
  ``md5`` per row.
* **Hash segments** otherwise (compound keys, integer keys, queries): segments are
  buckets of a hash of the key, so both databases agree on them
  without agreeing on a collation; one ``GROUP BY`` per side checksums every segment; a
  differing segment that is still large is split ``split_factor`` ways by the next bits
  of the same hash (bisection in hash space); in the remaining differing segments each
  side streams ``(key, row hash)`` sorted by key, and a merge names the differing keys.

Either way only the differing keys' rows are fetched (by key, through the index) and
compared with the full Python normalisers by the same merge as ``full`` mode,
``FETCH_KEYS`` at a time (bounded memory).  When differences are dense (more than
``dense_ratio`` of the rows) reading row by row is pointless: the pair is streamed in full
instead.  Rows with identical text on both sides count as ``match`` without being read,
exactly as in ``full`` mode (see :func:`monitor.consistency.compare.judge`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import TypeVar

from monitor.consistency.compare import ComparePlan, compare_streams
from monitor.consistency.errors import KeyOrderError, SourceError
from monitor.consistency.model import ChecksumSettings, Key, Outcome
from monitor.consistency.progress import FETCHING, HASHING, CheckProgress, ProgressSink
from monitor.consistency.reconcile import RangeReconciler, common_bounds
from monitor.consistency.report import Tally
from monitor.consistency.sources.base import RangeSource, SegmentSource
from monitor.consistency.streams import chunked

T = TypeVar("T")
S = TypeVar("S", bound=SegmentSource)
Sums = dict[int, tuple[int, int]]
MAX_MODULUS = 1 << 32  # the key hash has 32 bits
# Keys per lookup query: bounded memory, and few connections (PyMySQL spends ~50 ms
# building a TLS context for each).
FETCH_KEYS = 4000
LIST_BATCH_ROWS = 1_000_000  # about 30 MB of list text per side; MariaDB pays per statement
# Ranges summed per statement pair: a statement answers only when done, so this is how
# often a long check can say how far it is (a few connections more at 10^7 rows, none
# at 10^6).
SUM_BATCH_ROWS = 2_000_000
PROBE_RANGES = 64  # ranges listed first to judge how dense differences are
PROBE_DENSE = 0.5  # above this share of differing probed ranges, list every range


def _both(pool: ThreadPoolExecutor, f: Callable[[S], T], a: S, b: S) -> tuple[T, T]:
    # The two databases work at the same time; each query is one scan.
    fa, fb = pool.submit(f, a), pool.submit(f, b)
    return fa.result(), fb.result()


def _sums(source: SegmentSource, modulus: int, within: tuple[int, list[int]] | None) -> Sums:
    return source.segment_checksums(modulus, within)


def _rows(sums: Sums, segment: int) -> int:
    got = sums.get(segment)
    return got[0] if got else 0


def _grouped(name: str, hashes: Iterator[tuple[Key, int]]
             ) -> Iterator[tuple[Key, int, int]]:
    """``(key, hash, copies)`` from a key-sorted hash stream, checking the order."""
    last: tuple[Key, int] | None = None
    copies = 0
    for key, h in hashes:
        if last is not None:
            if key == last[0]:
                copies += 1
                continue
            if key < last[0]:
                raise KeyOrderError(name, "row hashes out of byte order")
            yield last[0], last[1], copies
        last, copies = (key, h), 1
    if last is not None:
        yield last[0], last[1], copies


def differing_keys(ref: Iterator[tuple[Key, int]], channel: Iterator[tuple[Key, int]],
                   tally: Tally) -> Iterator[Key]:
    """Keys whose row hashes differ, are on one side only, or are duplicated; keys with
    equal hashes are counted as matches in ``tally``."""
    a_it, b_it = _grouped(tally.reference, ref), _grouped(tally.channel, channel)
    a, b = next(a_it, None), next(b_it, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            yield a[0]
            a = next(a_it, None)
        elif a is None or b[0] < a[0]:
            yield b[0]
            b = next(b_it, None)
        else:
            if a[1] == b[1] and a[2] == b[2] == 1:
                tally.counts[Outcome.MATCH] += 1
                tally.rows_checksummed += 1
            else:
                yield a[0]
            a, b = next(a_it, None), next(b_it, None)


RangeQuery = Callable[[RangeSource, list[str], list[int]], dict[int, tuple[int, str]]]


def _range_lists(source: RangeSource, bounds: list[str], segments: list[int]
                 ) -> dict[int, tuple[int, str]]:
    return source.range_hash_lists(bounds, segments)


def _range_sums(source: RangeSource, bounds: list[str], segments: list[int]
                ) -> dict[int, tuple[int, str]]:
    return source.range_checksums(bounds, segments)


def _ranges_both(pool: ThreadPoolExecutor, query: RangeQuery, ref: RangeSource,
                 channel: RangeSource, bounds: list[str], segments: list[int]
                 ) -> tuple[dict[int, tuple[int, str]], ...]:
    # Each side as two statements: a database runs one statement on one core, so the
    # side with more work would otherwise leave the other core idle once its peer is done.
    halves = [h for h in (segments[:len(segments) // 2], segments[len(segments) // 2:]) if h]
    futures = [[pool.submit(query, s, bounds, h) for h in halves] for s in (ref, channel)]
    return tuple({k: v for f in side for k, v in f.result().items()} for side in futures)


def _range_capable(pool: ThreadPoolExecutor, ref: SegmentSource, channel: SegmentSource
                   ) -> bool:
    # Asks each database about its key column (collation, index), both at once: a
    # failure here is the one the checksum queries would meet, reported the same way.
    if not (isinstance(ref, RangeSource) and isinstance(channel, RangeSource)):
        return False
    a, b = pool.submit(ref.range_capable), pool.submit(channel.range_capable)
    return a.result() and b.result()


class _Steps:
    """What a checksum comparison has done so far, told to a progress sink (if any)."""

    def __init__(self, channel: str, progress: ProgressSink | None) -> None:
        self.channels = (channel,)
        self.progress = progress
        self.rows = self.rows_total = self.ranges = self.ranges_total = 0

    def plan(self, rows: int, ranges: int) -> None:
        """More work ahead: ``rows`` reference rows in ``ranges`` ranges."""
        self.rows_total += rows
        self.ranges_total += ranges
        self._tell()

    def hashed(self, rows: int, ranges: int) -> None:
        """Work done: ``rows`` reference rows of ``ranges`` ranges hashed."""
        self.rows += rows
        self.ranges += ranges
        self._tell()

    def _tell(self) -> None:
        if self.progress is not None:
            self.progress(CheckProgress(self.channels, HASHING, self.rows, self.rows_total,
                                        self.ranges, self.ranges_total))

    def fetched(self, keys: int, total: int | None) -> None:
        """``keys`` differing keys (of ``total``) fetched and compared so far."""
        if self.progress is not None:
            self.progress(CheckProgress(self.channels, FETCHING, keys, total))


def _ref_rows(got: dict[int, tuple[int, str]], segments: list[int]) -> int:
    return sum(got[s][0] for s in segments if s in got)


def _range_pair(plan: ComparePlan, ref: RangeSource, channel: RangeSource,
                settings: ChecksumSettings, now: datetime, max_samples: int,
                pool: ThreadPoolExecutor, progress: ProgressSink | None = None
                ) -> Tally | None:
    """Checksum mode over key ranges (``sources/ranges.py``).

    Listing a range's row hashes costs the databases about what summing them does, but
    it ships them, so: a probe of ``PROBE_RANGES`` ranges spread over the table is listed
    first.  When most of them differ, every range is listed (one pass); otherwise the
    rest is summed per range first and only differing ranges are listed.  Equal lists
    are matches; differing ones name the differing keys, whose rows are then fetched.
    """
    tally = Tally(ref.name, channel.name, max_samples)
    reconciler = RangeReconciler((ref.name, channel.name))
    cuts, total = ref.range_split_keys(settings.segments, settings.max_fetch_rows)
    # Bounds out of order in either collation would not tile that side's keys.
    ra_ranks, ca_ranks = _both(pool, lambda s: s.range_ranks(cuts), ref, channel)
    bounds = common_bounds(cuts, ra_ranks, ca_ranks)
    segments = list(range(len(bounds) + 1))
    steps = _Steps(channel.name, progress)
    steps.plan(total, len(segments))

    null_rows: int | None = None

    def judge(batch: list[int]) -> int:
        nonlocal null_rows
        # NULL keys (segment -1, counted through the index) ride along the first listing.
        ra, ca = _ranges_both(pool, _range_lists, ref, channel, bounds,
                              batch if null_rows is not None else [-1, *batch])
        if null_rows is None:
            null_rows = ra.get(-1, (0, ""))[0] + ca.get(-1, (0, ""))[0]
        differ = 0
        for seg in batch:
            a, b = ra.get(seg, (0, "")), ca.get(seg, (0, ""))
            differ += reconciler.add(a, b)
        steps.hashed(_ref_rows(ra, batch), len(batch))
        return differ
    rest = segments
    if len(segments) > 2 * PROBE_RANGES:
        step = len(segments) // PROBE_RANGES
        probe = segments[step // 2::step]
        if judge(probe) <= PROBE_DENSE * len(probe):
            listed = set(probe)
            rest = []
            again = 0  # reference rows of the differing ranges, hashed again as lists
            summed = [s for s in segments if s not in listed]
            per_sum = max(1, SUM_BATCH_ROWS * len(segments) // max(total, 1))
            for part in chunked(iter(summed), per_sum):
                rs, cs = _ranges_both(pool, _range_sums, ref, channel, bounds, part)
                steps.hashed(_ref_rows(rs, part), len(part))
                for seg in sorted(rs.keys() | cs.keys()):
                    if rs.get(seg) == cs.get(seg):
                        reconciler.matches += rs[seg][0]
                    else:
                        rest.append(seg)
                        again += rs.get(seg, (0, ""))[0]
            steps.plan(again, len(rest))
        else:
            rest = [s for s in segments if s not in set(probe)]
    # Bounded memory: about LIST_BATCH_ROWS rows' entries per side at a time.
    per_batch = min(settings.fetch_batch_segments,
                    max(1, LIST_BATCH_ROWS * len(segments) // max(total, 1)))
    for batch in chunked(iter(rest), per_batch):
        judge(batch)
        # Dense differences: fetching row by row would cost more than streaming the pair.
        if reconciler.pending() > settings.dense_ratio * max(total, 1):
            return None
    # Only now, with every differing range listed, can a key be called one-sided.
    keys = [(k,) for k in reconciler.finish()]
    tally.add(Outcome.MATCH, reconciler.matches)
    tally.rows_checksummed += reconciler.matches
    fetched = 0
    steps.fetched(fetched, len(keys))
    for chunk in chunked(iter(keys), FETCH_KEYS):
        tally.merge(compare_streams(plan, ref.name, ref.fetch(chunk),
                                    {channel.name: channel.fetch(chunk)}, now,
                                    max_samples)[channel.name])
        if tally.error is not None:
            return tally
        fetched += len(chunk)
        steps.fetched(fetched, len(keys))
    if null_rows:  # NULL keys are never in a range: judged as full mode does
        tally.merge(compare_streams(plan, ref.name, ref.null_key_records(),
                                    {channel.name: channel.null_key_records()}, now,
                                    max_samples)[channel.name])
    return tally


def checksum_pair(plan: ComparePlan, ref: SegmentSource, channel: SegmentSource,
                  settings: ChecksumSettings, now: datetime, max_samples: int = 20,
                  progress: ProgressSink | None = None) -> Tally | None:
    """Compare ``channel`` with ``ref`` by segment checksums.

    Returns the tally, or ``None`` when differences are dense and the caller should
    stream the pair in full.  A failing source yields a tally with ``error`` set.
    ``progress`` hears of the rows hashed, ranges judged and differing keys fetched.
    """
    try:
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="omniwatch-checksum") as pool:
            if _range_capable(pool, ref, channel):
                assert isinstance(ref, RangeSource)
                assert isinstance(channel, RangeSource)
                return _range_pair(plan, ref, channel, settings, now, max_samples, pool,
                                   progress)
    except SourceError as exc:
        failed = Tally(ref.name, channel.name, max_samples)
        failed.fail(str(exc))
        return failed
    tally = Tally(ref.name, channel.name, max_samples)
    leaves: dict[int, list[int]] = {}
    null_keys: int | None = None
    steps = _Steps(channel.name, progress)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="omniwatch-checksum") as pool:
        try:
            modulus = settings.segments
            steps.plan(0, modulus)  # one GROUP BY per side: its rows are known when done
            rs, cs = _both(pool, partial(_sums, modulus=modulus, within=None), ref, channel)
            ref_rows = sum(n for n, _ in rs.values())
            steps.plan(ref_rows, 0)
            steps.hashed(ref_rows, modulus)
            total = max(ref_rows, sum(n for n, _ in cs.values()), 1)
            if -1 in rs or -1 in cs:
                null_keys = modulus
            level: tuple[int, Sums, Sums] | None = (modulus, rs, cs)
            queued = 0
            while level is not None:
                modulus, rs, cs = level
                level = None
                differing = []
                for seg in (rs.keys() | cs.keys()) - {-1}:
                    if rs.get(seg) == cs.get(seg):
                        n = rs[seg][0]
                        tally.add(Outcome.MATCH, n)
                        tally.rows_checksummed += n
                    else:
                        differing.append(seg)
                diff_rows = sum(max(_rows(rs, s), _rows(cs, s)) for s in differing)
                if (queued + diff_rows) / total > settings.dense_ratio:
                    return None
                big = [s for s in differing
                       if max(_rows(rs, s), _rows(cs, s)) > settings.max_fetch_rows
                       and modulus * settings.split_factor <= MAX_MODULUS]
                small = sorted(set(differing) - set(big))
                if small:
                    leaves.setdefault(modulus, []).extend(small)
                    queued += sum(max(_rows(rs, s), _rows(cs, s)) for s in small)
                if big:
                    child = modulus * settings.split_factor
                    rs, cs = _both(pool, partial(_sums, modulus=child, within=(modulus, big)),
                                   ref, channel)
                    level = (child, rs, cs)
        except SourceError as exc:
            tally.fail(str(exc))
            return tally
    fetched = 0
    try:
        for modulus, segments in sorted(leaves.items()):
            for batch in chunked(sorted(segments), settings.fetch_batch_segments):
                keys = differing_keys(ref.segment_hashes(modulus, batch),
                                      channel.segment_hashes(modulus, batch), tally)
                for chunk in chunked(keys, FETCH_KEYS):
                    tally.merge(compare_streams(plan, ref.name, ref.fetch(chunk),
                                                {channel.name: channel.fetch(chunk)}, now,
                                                max_samples)[channel.name])
                    if tally.error is not None:
                        return tally
                    fetched += len(chunk)
                    steps.fetched(fetched, None)  # found while streaming: no total ahead
        if null_keys is not None:
            tally.merge(compare_streams(
                plan, ref.name, ref.fetch_segments(null_keys, [-1]),
                {channel.name: channel.fetch_segments(null_keys, [-1])}, now,
                max_samples)[channel.name])
    except SourceError as exc:
        tally.fail(str(exc))
    return tally
