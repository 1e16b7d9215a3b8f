"""How far a running check is, for a person watching a terminal (never for decisions).

The engine reports through a :data:`ProgressSink` handed to ``run_check``; it never
prints, and without a sink (scheduled runs) it does no extra work at all.  Reports come
every :data:`EVERY_ROWS` rows streamed, after each batch of ranges hashed and each chunk
of keys fetched, so a sink is called at most a few hundred times a second and may be
slow-witted about it; rendering and throttling are the caller's business
(``monitor.cli.consistency_progress``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from monitor.consistency.model import SourceRecord

STREAMING = "streaming"  # full mode: rows read from the reference
HASHING = "hashing"  # checksum mode: rows the databases hashed, ranges or segments
FETCHING = "fetching"  # checksum mode: differing keys whose rows are read and compared
FINISHED = "finished"  # the check is over (its reports are being made): nothing to show

# A report per this many reference rows streamed: a sink call costs microseconds, the
# rows between two calls tens of milliseconds.
EVERY_ROWS = 1 << 14


@dataclass(frozen=True, slots=True)
class CheckProgress:
    """One step of a running check.

    ``channels`` are the channels this work serves (several when one full-mode merge
    compares them all).  ``done``/``total`` count what ``phase`` works through: reference
    rows streamed or hashed (``total`` the reference's row estimate, ``None`` when the
    source cannot tell cheaply), or differing keys fetched.  ``ranges_done``/
    ``ranges_total`` are the key ranges (or hash segments) judged, in checksum mode.
    """

    channels: tuple[str, ...]
    phase: str
    done: int
    total: int | None = None
    ranges_done: int | None = None
    ranges_total: int | None = None


ProgressSink = Callable[[CheckProgress], None]


def counted(records: Iterable[SourceRecord], report: Callable[[int], None],
            every: int = EVERY_ROWS) -> Iterator[SourceRecord]:
    """``records`` unchanged, calling ``report(rows so far)`` at the start, every
    ``every`` rows and at the end (the exact count).  Closing it closes ``records``
    (ending the source's query), as the merge expects of a stream."""
    it = iter(records)
    n = 0
    report(0)
    try:
        for rec in it:
            yield rec
            n += 1
            if n % every == 0:
                report(n)
        report(n)
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
