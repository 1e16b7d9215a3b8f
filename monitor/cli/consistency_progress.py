"""The one self-overwriting progress line of ``omniwatch consistency check`` on a terminal.

:func:`progress_text` (pure) says where a check is; :class:`ProgressLine` draws it on
stderr from what the engine reports (:mod:`monitor.consistency.progress`), at most
:data:`REDRAW_SECONDS` apart, and clears it at the end.  Only keys' counts are shown,
never a key or a value.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TextIO

from monitor.consistency.progress import (
    FETCHING,
    FINISHED,
    STREAMING,
    CheckProgress,
    ProgressSink,
)

REDRAW_SECONDS = 0.25  # about four times a second: readable, and no flicker
CLEAR = "\r\033[K"


def clock_text(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _share(p: CheckProgress) -> float | None:
    """How much of the phase is done, from rows (or keys) when their total is known,
    else from ranges; ``None`` when nothing says."""
    if p.total and p.done <= p.total:
        return p.done / p.total
    if p.ranges_total and p.ranges_done is not None:
        return p.ranges_done / p.ranges_total
    return None


def progress_text(dataset: str, p: CheckProgress | None, elapsed: float,
                  phase_elapsed: float, width: int = 0, since_report: float = 0.0) -> str:
    """The line for ``dataset``'s check: what is being done, how much of it, the elapsed
    time and an estimate of the time the current phase has left (from its own pace up
    to ``p``, which arrived ``since_report`` seconds ago).  ``width`` (the terminal's
    columns) cuts it short so that it never wraps, which would break the overwriting."""
    if p is None:
        text = f"{dataset}: checking… {clock_text(elapsed)} elapsed"
    else:
        where = f"{dataset}/{','.join(p.channels)}"
        if p.phase == FETCHING:
            what = f"fetching {p.done:,}" + (f" of {p.total:,}" if p.total is not None
                                              else "") + " differing keys"
        else:
            # Streamed totals are the catalog's estimates; hashed totals are counts.
            about = "~" if p.phase == STREAMING else ""
            what = f"{p.phase} {p.done:,}" + (f" of {about}{p.total:,}" if p.total else
                                              "") + " rows"
        if p.ranges_total is not None and p.ranges_done is not None:
            what += f", {p.ranges_total - p.ranges_done:,} of {p.ranges_total:,} ranges left"
        text = f"{where}: {what}, {clock_text(elapsed)} elapsed"
        share = _share(p)
        # The pace is the one measured when ``p`` arrived: the seconds since, with no new
        # report (one statement may sum millions of rows), count the estimate down instead
        # of inflating it; once past it, the phase promises nothing.
        paced = phase_elapsed - since_report
        if share and share < 1 and paced > 0:
            left = paced * (1 - share) / share - since_report
            if left > 0:
                text += f", ~{clock_text(left)} left"
    return text[:width - 1] if width > 1 and len(text) >= width else text


class ProgressLine:
    """Draws the latest report of a running check on ``stream`` (a terminal).

    Reports arrive from the checking thread through :meth:`sink`; a drawing happens at
    once if the last was at least :data:`REDRAW_SECONDS` ago or the report starts a new
    phase (rare: a few per channel), and a ticker thread redraws the clocks in between.
    Disabled (piped, ``--json``), it draws nothing at all.
    """

    def __init__(self, stream: TextIO, enabled: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._enabled = enabled
        self._clock = clock
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="consistency-progress",
                                        daemon=True)
        self._began = clock()
        self._dataset = ""
        self._latest: CheckProgress | None = None
        self._phase: tuple[str, tuple[str, ...], str] | None = None
        self._phase_began = self._began
        self._reported_at = self._began  # when ``_latest`` arrived
        self._drawn_at: float | None = None
        self._idle = False  # between two datasets' checks: nothing is running

    def __enter__(self) -> ProgressLine:
        if self._enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._enabled:
            self._thread.join()
            with self._lock:
                self._stream.write(CLEAR)
                self._stream.flush()

    def sink(self, dataset: str) -> ProgressSink | None:
        """The sink for ``dataset``'s check (``None`` when disabled: no work at all)."""
        if not self._enabled:
            return None
        with self._lock:
            self._dataset, self._latest, self._phase = dataset, None, None
            self._idle = False
            self._began = self._phase_began = self._clock()  # elapsed: this dataset's

        def report(p: CheckProgress) -> None:
            now = self._clock()
            with self._lock:
                if p.phase == FINISHED:  # cleared before the check logs its outcome
                    self._idle = True
                    self._stream.write(CLEAR)
                    self._stream.flush()
                    return
                self._idle = False
                phase = (dataset, p.channels, p.phase)
                new = phase != self._phase
                if new:
                    self._phase, self._phase_began = phase, now
                self._latest, self._reported_at = p, now
                self._draw(now, force=new)  # a new phase is shown at once
        return report

    def _tick(self) -> None:
        while not self._done.wait(REDRAW_SECONDS):
            with self._lock:
                self._draw(self._clock())

    def _width(self) -> int:
        # The terminal stderr is on: stdout may be piped to a file meanwhile.
        try:
            return os.get_terminal_size(self._stream.fileno()).columns
        except (OSError, ValueError):
            return 80

    def _draw(self, now: float, force: bool = False) -> None:
        if self._idle:
            return
        if not force and self._drawn_at is not None and now - self._drawn_at < REDRAW_SECONDS:
            return
        self._drawn_at = now
        width = self._width()
        text = progress_text(self._dataset or "consistency", self._latest, now - self._began,
                             now - self._phase_began, width, now - self._reported_at)
        self._stream.write(CLEAR + text)
        self._stream.flush()
