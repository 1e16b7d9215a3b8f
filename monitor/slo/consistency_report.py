"""The consistency section of the monthly report: per dataset and channel, from the
history of runs (counts only, never a value).  Pure.

Definitions:

- *last*, *minimum* and *mean* ratio are over the month's successful **whole** runs (full,
  checksum, sample); incremental runs judge only the keys changed since the previous run,
  so their ratios describe another population and are left out of these figures (they
  still count as runs, and as failed runs when they failed);
- *runs failed*: runs of any kind that could not complete (a source was down);
- *objective met*: the mean ratio is at or above the dataset's objective; ``None`` (no
  data) when no whole run succeeded in the month, which is never reported as met.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

INCREMENTAL = "incremental"


@dataclass(frozen=True, slots=True)
class ConsistencyScope:
    """One configured dataset: its reference, channels and objective."""

    dataset: str
    reference: str
    channels: tuple[str, ...]
    objective: float


@dataclass(frozen=True, slots=True)
class ConsistencyRow:
    """One dataset's channel over the month."""

    dataset: str
    channel: str
    reference: str
    objective: float
    runs: int = 0
    failed: int = 0
    last: float | None = None
    minimum: float | None = None
    mean: float | None = None

    @property
    def met(self) -> bool | None:
        """Whether the mean ratio met the objective; None without a successful run."""
        if self.mean is None:
            return None
        return self.mean >= self.objective or math.isclose(self.mean, self.objective)


def consistency_rows(scopes: Sequence[ConsistencyScope],
                     runs: Iterable[Mapping[str, Any]]) -> tuple[ConsistencyRow, ...]:
    """A row per configured dataset and channel, in configuration order, from ``runs``
    (history rows as ``consistency_history`` returns them, oldest first).  Runs of a
    dataset or channel no longer configured are left out."""
    by_key: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in runs:
        by_key.setdefault((str(r.get("dataset", "customers")), str(r["channel"])), []
                          ).append(r)
    rows = []
    for s in scopes:
        for channel in s.channels:
            found = by_key.get((s.dataset, channel), [])
            ratios = [float(r["ratio"]) for r in found if r["success"]
                      and r["mode"] != INCREMENTAL and r["ratio"] is not None]
            rows.append(ConsistencyRow(
                dataset=s.dataset, channel=channel, reference=s.reference,
                objective=s.objective, runs=len(found),
                failed=sum(1 for r in found if not r["success"]),
                last=ratios[-1] if ratios else None,
                minimum=min(ratios) if ratios else None,
                mean=sum(ratios) / len(ratios) if ratios else None))
    return tuple(rows)
