"""Stream plumbing: read a source ahead in a thread, and cut key lists into chunks.

Reading ahead lets a database produce the next rows while Python compares the current
ones; the queue is bounded, so memory stays constant whatever the table size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


def prefetched(items: Iterable[T], batch: int = 2000, depth: int = 8) -> Iterator[T]:
    """``items``, read in a background thread at most ``depth`` batches ahead.

    Exceptions raised by ``items`` are re-raised by the consumer at the same point.
    Stopping early tells the reader to stop; it closes ``items`` in its own thread.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(obj: object) -> bool:
        while not stop.is_set():
            try:
                q.put(obj, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(items)
        try:
            buf: list[T] = []
            for item in it:
                buf.append(item)
                if len(buf) >= batch:
                    if not put(buf):
                        return
                    buf = []
            if put(buf):
                put(_END)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="omniwatch-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            got = q.get()
            if got is _END:
                return
            if isinstance(got, BaseException):
                raise got
            yield from got  # type: ignore[misc]  # a list[T] batch
    finally:
        stop.set()


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items."""
    buf: list[T] = []
    for item in items:
        buf.append(item)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf
