"""Reloads that never stall probing: build off the loop, apply the difference, coalesce.

Reading, validating and building a configuration of thousands of targets costs seconds of
CPU (YAML and JSON Schema are pure Python); :func:`prepare` does all of it, and works out
what changed (:func:`diff_targets`), in a worker thread, so that the event loop only swaps
references and touches the jobs of targets that changed.  :class:`Coalescer` turns a burst
of requests (a SIGHUP storm, a deploy tool retrying ``POST /-/reload``) into one more run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from monitor.config import load_config
from monitor.config.model import Config, Target
from monitor.slo.bindings import SloBinding, exclusions, slo_bindings
from monitor.slo.exclusions import Exclusions

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TargetDiff:
    """What a new configuration changes in the set of targets, by name.

    ``changed`` holds targets whose definition differs (URL, timeout, expectations, …);
    ``retimed`` is the subset whose interval differs, the only ones whose job moves.
    """

    added: tuple[Target, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[Target, ...] = ()
    retimed: tuple[Target, ...] = ()
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        """Whether the targets are exactly as before."""
        return not (self.added or self.removed or self.changed)


def diff_targets(old: Mapping[str, Target], new: Mapping[str, Target]) -> TargetDiff:
    """The difference from ``old`` to ``new`` (both keyed by target name); pure."""
    added, changed, retimed = [], [], []
    unchanged = 0
    for name, target in new.items():
        before = old.get(name)
        if before is None:
            added.append(target)
        elif before == target:
            unchanged += 1
        else:
            changed.append(target)
            if before.interval_seconds != target.interval_seconds:
                retimed.append(target)
    removed = tuple(name for name in old if name not in new)
    return TargetDiff(tuple(added), removed, tuple(changed), tuple(retimed), unchanged)


@dataclass(frozen=True, slots=True)
class PreparedReload:
    """A configuration built and compared off the loop, ready to be swapped in."""

    config: Config
    targets: Mapping[str, Target]
    diff: TargetDiff
    exclusions: Exclusions
    bindings: tuple[SloBinding, ...]


def prepare_config(config: Config, old: Mapping[str, Target]) -> PreparedReload:
    """Everything the monitor derives from ``config``, and its difference from ``old``."""
    targets = {t.name: t for t in config.targets}
    return PreparedReload(config, targets, diff_targets(old, targets), exclusions(config),
                          slo_bindings(config))


def prepare(path: str, old: Mapping[str, Target]) -> PreparedReload:
    """Load ``path`` and prepare it (blocking: run it in a worker thread).

    Raises :class:`~monitor.config.ConfigError` for a bad file, like ``load_config``.
    ``old`` is only read, so the loop may keep using it meanwhile.
    """
    return prepare_config(load_config(path), old)


class Coalescer(Generic[T]):
    """Runs ``job`` on request, never two at once, folding requests into as few runs as
    keep every request honest: a request made while a run is going gets exactly one
    more run after it (a run that started earlier may have read the file too early);
    every request made meanwhile shares that same run.

    :meth:`request` returns a future of the result of the run that serves it.
    """

    def __init__(self, job: Callable[[], Awaitable[T]]) -> None:
        self._job = job
        self._driver: asyncio.Task[None] | None = None
        self._next: asyncio.Future[T] | None = None
        self.requests = 0
        self.runs = 0

    @property
    def busy(self) -> bool:
        """Whether a run is going (or about to start)."""
        return self._driver is not None and not self._driver.done()

    def request(self) -> asyncio.Future[T]:
        """Ask for a run; needs a running event loop."""
        self.requests += 1
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        served = self._next
        if not self.busy:
            self._driver = asyncio.create_task(self._drive())
        return served

    async def _drive(self) -> None:
        while self._next is not None:
            served, self._next = self._next, None
            self.runs += 1
            try:
                result = await self._job()
            except asyncio.CancelledError:
                served.cancel()
                if self._next is not None:
                    self._next.cancel()
                    self._next = None
                raise
            except Exception as exc:
                if not served.done():
                    served.set_exception(exc)
                    served.exception()  # nobody may be waiting (SIGHUP): not "never retrieved"
            else:
                if not served.done():
                    served.set_result(result)

    async def close(self) -> None:
        """Cancel a run in progress and every waiting request."""
        if self._driver is not None and not self._driver.done():
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
