"""What the rules read: plain snapshots of the monitor's state, built by the runtime.

The rules (:mod:`alerts.rules`) are pure over these; nothing here knows how a probe, the
SLO math or a consistency check works.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from alerts.model import Labels


@dataclass(frozen=True, slots=True)
class TargetFacts:
    """One target as its counted results left it.

    Results excluded by maintenance or service hours change neither counter (an
    excluded failure never brings an alert closer); ``excluded`` says why the latest
    result was excluded, if it was.  ``labels`` are the channel's labels overlaid with
    the target's own.
    """

    name: str
    channel: str
    kind: str
    labels: Labels = ()
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    failing_since: float | None = None  # start of the first failure of the current run
    last_reason: str | None = None
    last_detail: str = ""
    last_at: float | None = None
    excluded: str | None = None
    cert_expiry: float | None = None  # notAfter of the leaf certificate, when probed


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    """A channel, its labels and its targets' names."""

    name: str
    labels: Labels = ()
    targets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SloFacts:
    """One SLO's burn-rate verdict from the multi-window table (``monitor.slo``)."""

    slo: str
    channel: str
    target: str | None = None
    labels: Labels = ()
    objective: float = 0.999
    page: bool = False  # a page row of the table fires (both its windows burn too fast)
    ticket: bool = False
    burn_rates: Mapping[str, float | None] = field(default_factory=dict)
    # The windows (long and short) of the firing page / ticket rows, table order: which
    # burn rates the alert's message quotes.
    page_windows: tuple[str, ...] = ()
    ticket_windows: tuple[str, ...] = ()
    sli: float | None = None  # over the SLO period
    budget_remaining_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class ConsistencyFacts:
    """The latest consistency check of one dataset's channel against its reference."""

    channel: str
    reference: str
    dataset: str = "customers"
    labels: Labels = ()
    ratio: float | None = None  # None when the check failed or judged nothing
    objective: float = 0.99
    error: str | None = None  # the check could not run (no ratio at all)
    worst_field: str | None = None  # the field that disagrees most (a name, never a value)
    judged: int = 0
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class HealthFacts:
    """The monitor's own health."""

    # Mean delay between a probe's slot and its start over the last interval, if any ran.
    probe_lateness_seconds: float | None = None
    skipped_runs: int = 0  # runs the scheduler skipped since the last evaluation
    store_error: str | None = None  # the last store write failed with this error class
    store_failing_since: float | None = None
    # receiver -> error code, for receivers whose last delivery failed permanently.
    failing_receivers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuleInputs:
    """Everything one evaluation reads.  ``slos`` is None when the SLOs could not be
    computed now (the store is down): the rules then keep the SLO alerts as they were,
    since an unreadable store proves nothing either way."""

    now: float
    targets: Sequence[TargetFacts] = ()
    channels: Sequence[ChannelFacts] = ()
    slos: Sequence[SloFacts] | None = ()
    consistency: Sequence[ConsistencyFacts] = ()
    health: HealthFacts = HealthFacts()
    # (dataset, channel, reference) configured for checks whose first check since start
    # has not reported yet: their consistency alerts stand as they were (a restart
    # proves nothing about the data).
    consistency_awaited: tuple[tuple[str, str, str], ...] = ()
