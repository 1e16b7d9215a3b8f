"""``checksum`` mode: let both databases checksum hash segments; compare only what differs.

Unlike key-range bisection (reladiff), segments are buckets of a hash of the key, so:

* both databases agree on which rows form a segment without agreeing on a collation
  (text keys sort differently in MySQL and PostgreSQL; hashes do not);
* one ``GROUP BY`` per side checksums every segment in a single scan, and an identical
  table costs exactly that; a differing segment that is still large is split
  ``split_factor`` ways by the next bits of the same hash (bisection in hash space), one
  query per level for all such segments;
* in the remaining differing segments each side streams ``(key, row hash)`` sorted by key;
  a merge of the two streams names exactly the keys that differ, and only those rows are
  fetched (by key, through the index) and compared with the full Python normalisers by
  the same merge as ``full`` mode, 1000 keys at a time (bounded memory);
* when differing segments hold more than ``dense_ratio`` of the rows, bisecting is
  pointless: the pair is streamed in full instead.

Rows with identical text on both sides count as ``match`` without being read, exactly as
in ``full`` mode (see :func:`monitor.consistency.compare.judge`).
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
from monitor.consistency.report import Tally
from monitor.consistency.sources.base import SegmentSource
from monitor.consistency.streams import chunked

T = TypeVar("T")
Sums = dict[int, tuple[int, int]]
MAX_MODULUS = 1 << 32  # the key hash has 32 bits
FETCH_KEYS = 1000


def _both(pool: ThreadPoolExecutor, f: Callable[[SegmentSource], T], a: SegmentSource,
          b: SegmentSource) -> tuple[T, T]:
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


def checksum_pair(plan: ComparePlan, ref: SegmentSource, channel: SegmentSource,
                  settings: ChecksumSettings, now: datetime, max_samples: int = 20
                  ) -> Tally | None:
    """Compare ``channel`` with ``ref`` by segment checksums.

    Returns the tally, or ``None`` when differences are dense and the caller should
    stream the pair in full.  A failing source yields a tally with ``error`` set.
    """
    tally = Tally(ref.name, channel.name, max_samples)
    leaves: dict[int, list[int]] = {}
    null_keys: int | None = None
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="omniwatch-checksum") as pool:
        try:
            modulus = settings.segments
            rs, cs = _both(pool, partial(_sums, modulus=modulus, within=None), ref, channel)
            total = max(sum(n for n, _ in rs.values()), sum(n for n, _ in cs.values()), 1)
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
        if null_keys is not None:
            tally.merge(compare_streams(
                plan, ref.name, ref.fetch_segments(null_keys, [-1]),
                {channel.name: channel.fetch_segments(null_keys, [-1])}, now,
                max_samples)[channel.name])
    except SourceError as exc:
        tally.fail(str(exc))
    return tally
