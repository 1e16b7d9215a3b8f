"""When the alerting loop evaluates next.

Every ``evaluation_interval`` as a floor, and two moments earlier than that, so that an
alert reaches its receiver ``group_wait`` after its confirming failure rather than up
to two intervals later:

* when a group is due to flush (its ``group_wait`` or ``group_interval`` ends): the
  engine flushes at the first evaluation at or after that instant;
* soon after a probe result that may have confirmed an alert (a nudge), but never
  sooner than :data:`NUDGE_SPACING_SECONDS` after the previous evaluation began, so
  that a storm of confirmations costs a few evaluations a second, not one per probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Final

NUDGE_SPACING_SECONDS: Final = 0.25


def next_wake(started: float, interval: float, due_in: float | None, now: float) -> float:
    """The loop time of the next regular evaluation: one ``interval`` after the last
    began (``started``), or when a group is due (``due_in`` seconds from ``now``), if
    that is sooner.  Never before ``now``."""
    wake = started + interval
    if due_in is not None and math.isfinite(due_in):
        wake = min(wake, now + max(0.0, due_in))
    return max(wake, now)


class Wakeup:
    """The alerting loop's pause between evaluations (see the module docstring)."""

    __slots__ = ("_nudged",)

    def __init__(self) -> None:
        self._nudged = asyncio.Event()

    def nudge(self) -> None:
        """Something worth an evaluation happened: evaluate soon."""
        self._nudged.set()

    def clear(self) -> None:
        """An evaluation is starting: it sees whatever the nudges so far were about."""
        self._nudged.clear()

    async def pause(self, started: float, interval: float, due_in: float | None, *,
                    nudges: bool = True) -> None:
        """Sleep until the next evaluation: :func:`next_wake`, or a nudge (when
        ``nudges``) no sooner than the spacing after ``started``.  Loop times."""
        loop = asyncio.get_running_loop()
        wake = next_wake(started, interval, due_in, loop.time())
        if not nudges:
            await asyncio.sleep(wake - loop.time())
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._nudged.wait(), timeout=wake - loop.time())
        spaced = min(wake, started + NUDGE_SPACING_SECONDS) - loop.time()
        if spaced > 0:
            await asyncio.sleep(spaced)
