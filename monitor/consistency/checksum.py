"""``checksum`` mode: let both databases checksum hash segments; compare only what differs.

Unlike key-range bisection (reladiff), segments are buckets of a hash of the key, so:

* both databases agree on which rows form a segment without agreeing on a collation
  (text keys sort differently in MySQL and PostgreSQL; hashes do not);
* one ``GROUP BY`` per side checksums every segment in a single scan; a segment that
  differs and is still large is split ``split_factor`` ways by the next bits of the same
  hash (bisection in hash space), again one query per level for all such segments;
* differing segments are fetched with the full Python normalisers and compared by the
  same merge as ``full`` mode, ``fetch_batch_segments`` at a time (bounded memory);
* when differing segments hold more than ``dense_ratio`` of the rows, bisecting is
  pointless: the pair is streamed in full instead.

Rows in equal segments count as ``match`` without being read, so an identical invalid
record on both sides, or an identical duplicate, is not seen in this mode.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import TypeVar

from monitor.consistency.compare import ComparePlan, compare_streams
from monitor.consistency.errors import SourceError
from monitor.consistency.model import ChecksumSettings, Outcome
from monitor.consistency.report import Tally
from monitor.consistency.sources.base import SegmentSource
from monitor.consistency.streams import chunked

T = TypeVar("T")
Sums = dict[int, tuple[int, int]]
MAX_MODULUS = 1 << 32  # the key hash has 32 bits


def _both(pool: ThreadPoolExecutor, f: Callable[[SegmentSource], T], a: SegmentSource,
          b: SegmentSource) -> tuple[T, T]:
    # The two databases work at the same time; each query is one scan.
    fa, fb = pool.submit(f, a), pool.submit(f, b)
    return fa.result(), fb.result()


def _sums(source: SegmentSource, modulus: int, within: tuple[int, list[int]]) -> Sums:
    return source.segment_checksums(modulus, within)


def _rows(sums: Sums, segment: int) -> int:
    got = sums.get(segment)
    return got[0] if got else 0


def checksum_pair(plan: ComparePlan, ref: SegmentSource, channel: SegmentSource,
                  settings: ChecksumSettings, now: datetime, max_samples: int = 20
                  ) -> Tally | None:
    """Compare ``channel`` with ``ref`` by segment checksums.

    Returns the tally, or ``None`` when differences are dense and the caller should
    stream the pair in full.  A failing source yields a tally with ``error`` set.
    """
    tally = Tally(ref.name, channel.name, max_samples)
    to_fetch: dict[int, list[int]] = {}
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="omniwatch-checksum") as pool:
        try:
            modulus = settings.segments
            rs, cs = _both(pool, lambda s: s.segment_checksums(modulus), ref, channel)
            total = max(sum(n for n, _ in rs.values()), sum(n for n, _ in cs.values()), 1)
            level: tuple[int, Sums, Sums] | None = (modulus, rs, cs)
            fetch_rows = 0
            while level is not None:
                modulus, rs, cs = level
                level = None
                differing = []
                for seg in rs.keys() | cs.keys():
                    if seg != -1 and rs.get(seg) == cs.get(seg):
                        n = rs[seg][0]
                        tally.add(Outcome.MATCH, n)
                        tally.rows_checksummed += n
                    else:
                        differing.append(seg)
                # Dense: even at a grain fine enough to fetch, the differing segments
                # hold too much of the table; streaming it costs less than fetching.
                diff_rows = sum(max(_rows(rs, s), _rows(cs, s)) for s in differing)
                if (total / modulus <= settings.max_fetch_rows
                        and (fetch_rows + diff_rows) / total > settings.dense_ratio):
                    return None
                big = [s for s in differing if s != -1
                       and max(_rows(rs, s), _rows(cs, s)) > settings.max_fetch_rows
                       and modulus * settings.split_factor <= MAX_MODULUS]
                small = sorted(set(differing) - set(big))
                if small:
                    to_fetch.setdefault(modulus, []).extend(small)
                    fetch_rows += sum(max(_rows(rs, s), _rows(cs, s)) for s in small)
                if big:
                    child = modulus * settings.split_factor
                    within = (modulus, big)
                    rs2, cs2 = _both(pool, partial(_sums, modulus=child, within=within),
                                     ref, channel)
                    level = (child, rs2, cs2)
        except SourceError as exc:
            tally.fail(str(exc))
            return tally
    for modulus, segments in sorted(to_fetch.items()):
        for batch in chunked(sorted(segments), settings.fetch_batch_segments):
            part = compare_streams(
                plan, ref.name, ref.fetch_segments(modulus, batch),
                {channel.name: channel.fetch_segments(modulus, batch)},
                now, max_samples)[channel.name]
            tally.merge(part)
            if tally.error is not None:
                return tally
    return tally
