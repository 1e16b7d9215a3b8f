"""The status snapshot: what ``/api/v1/status`` answers and the status page renders.

Plain frozen dataclasses whose field names are the JSON keys of the contract
(docs/api.md); :func:`status_dict` turns a snapshot into that JSON-ready dict.  Times are
Unix seconds, ratios 0..1, and what cannot be known is ``None`` (never 0 or 1 in its
place).  No field ever holds customer data: names are configured target, channel and
dataset names; reasons and messages are the probes' own, already free of secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from monitor.server.uptime import Uptime

ChannelState = Literal["up", "degraded", "down", "maintenance", "closed", "unknown"]
TargetStateName = Literal["up", "degraded", "down", "pending", "maintenance", "closed"]
AvailabilityStatus = Literal["ok", "ticket", "page", "exhausted", "no_data"]


@dataclass(frozen=True, slots=True)
class Availability:
    """An availability SLO over its window (``window``, e.g. ``30d``)."""

    objective: float
    window: str
    sli: float | None
    budget_remaining: float | None
    burn_rates: dict[str, float | None]
    status: AvailabilityStatus


@dataclass(frozen=True, slots=True)
class TargetCounts:
    """A channel's targets by their latest result (``pending``: none yet)."""

    total: int
    up: int
    degraded: int
    down: int
    pending: int


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """One channel: its state, its targets, its SLO and its uptime bars.

    ``availability`` and ``uptime`` are None when the history store cannot be read.
    """

    name: str
    state: ChannelState
    targets: TargetCounts
    service_hours: str | None
    availability: Availability | None
    uptime: Uptime | None


@dataclass(frozen=True, slots=True)
class TargetLine:
    """One target, one line: its state and latest result."""

    name: str
    channel: str
    kind: str
    state: TargetStateName
    reason: str | None
    since: float | None
    last_run: float | None
    duration_seconds: float | None


@dataclass(frozen=True, slots=True)
class JourneyObjective:
    """A flow-time objective; ``value_seconds``/``met`` None without runs (or store)."""

    name: str
    percentile: float
    objective_seconds: float
    value_seconds: float | None
    met: bool | None


@dataclass(frozen=True, slots=True)
class JourneyStatus:
    """A journey or browser target and its flow-time objectives (last 7 days)."""

    name: str
    channel: str
    state: TargetStateName
    last_duration_seconds: float | None
    objectives: tuple[JourneyObjective, ...]


@dataclass(frozen=True, slots=True)
class ChannelConsistency:
    """The latest check of one channel of one dataset (None everywhere before any)."""

    channel: str
    ratio: float | None
    mode: str | None
    judged: int | None
    inconsistent: int | None
    missing: int | None
    extra: int | None
    pending: int | None
    worst_field: str | None
    last_run: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DatasetConsistency:
    """One dataset: its channels, and their ratio weighed by judged keys, against the
    dataset's own objective (datasets may set different ones)."""

    name: str
    reference: str
    ratio: float | None
    channels: tuple[ChannelConsistency, ...]
    objective: float


@dataclass(frozen=True, slots=True)
class Consistency:
    """Every dataset; ``ratio`` is dataset ``all``, channel ``all`` (as the metric)."""

    objective: float | None
    ratio: float | None
    datasets: tuple[DatasetConsistency, ...]


@dataclass(frozen=True, slots=True)
class AlertLine:
    """A firing, unmuted alert: its labels and summary, never customer data."""

    alertname: str
    severity: str
    channel: str | None
    target: str | None
    summary: str | None
    since: float | None


@dataclass(frozen=True, slots=True)
class MaintenanceLine:
    """One occurrence of a maintenance window (current, or starting within 7 days)."""

    name: str
    channels: tuple[str, ...]
    targets: tuple[str, ...]
    starts_at: float
    ends_at: float
    active: bool


@dataclass(frozen=True, slots=True)
class IncidentLine:
    """A span during which a target was down; ``ended_at`` None while it still is."""

    channel: str
    target: str
    started_at: float
    ended_at: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """Whether the history store could be read for this snapshot, and if not why."""

    ok: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class Objectives:
    """The configured objectives (the default channel SLO's, and consistency's)."""

    availability: float
    consistency: float | None
    window: str


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Everything the status page and ``/api/v1/status`` show, at ``generated_at``.

    ``alerts`` and ``incidents`` are None when the store cannot be read (``store``).
    """

    generated_at: float
    version: str
    state: ChannelState
    objectives: Objectives
    channels: tuple[ChannelStatus, ...]
    targets: tuple[TargetLine, ...]
    journeys: tuple[JourneyStatus, ...]
    consistency: Consistency
    alerts: tuple[AlertLine, ...] | None
    maintenance: tuple[MaintenanceLine, ...]
    incidents: tuple[IncidentLine, ...] | None
    store: StoreStatus


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """``value`` with dataclasses as dicts and tuples as lists, ready for ``json``.

    Several times faster than :func:`dataclasses.asdict` (no deep copies; field names
    from ``__slots__``, every class here has them; scalars are not recursed into), which
    matters at 10,000 target lines a second.
    """
    cls = type(value)
    if cls in _SCALARS:
        return value
    if hasattr(cls, "__dataclass_fields__"):
        out = {}
        for name in cls.__slots__:
            v = getattr(value, name)
            out[name] = v if type(v) in _SCALARS else plain(v)
        return out
    if cls is tuple or cls is list:
        return [v if type(v) in _SCALARS else plain(v) for v in value]
    if cls is dict:
        return {k: v if type(v) in _SCALARS else plain(v) for k, v in value.items()}
    return value


def status_dict(snapshot: StatusSnapshot) -> dict[str, Any]:
    """The snapshot as the JSON-ready dict of the contract."""
    doc = plain(snapshot)
    assert isinstance(doc, dict)
    return doc
