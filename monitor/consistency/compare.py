"""The comparison: a k-way merge of key-sorted streams, pure and driver-free.

Every source yields :class:`SourceRecord` sorted by key in code-point (= UTF-8 byte)
order.  :func:`compare_streams` walks the reference and all channels together, one key at
a time, holding one group per source: memory does not grow with the tables.  A key that
goes backwards raises :class:`KeyOrderError` instead of silently mis-diffing (databases
collate strings differently from Python).  :func:`judge` decides one key for one channel.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.consistency.errors import InvalidValue, KeyOrderError, SourceError
from monitor.consistency.model import (
    ConsistencyConfig,
    FieldDiff,
    Key,
    Outcome,
    SourceRecord,
)
from monitor.consistency.normalise import Equality, Normaliser, make_equality, make_normaliser
from monitor.consistency.report import Tally, mask
from monitor.consistency.schema import FieldCheck, compile_record

Values = tuple[str | None, ...]


_DIGEST = re.compile(r"[0-9a-f]{64}")


def _digest_check(name: str) -> FieldCheck:
    def check(value: str | None) -> str | None:
        if value is None or _DIGEST.fullmatch(value):
            return None
        return f"{name}: not a SHA-256 digest (is the field hashed by the source?)"

    return check


@dataclass(frozen=True, slots=True)
class ComparePlan:
    """Everything :func:`judge` needs, precomputed from a :class:`ConsistencyConfig`."""

    key_fields: tuple[str, ...]
    fields: tuple[str, ...]
    normalisers: tuple[Normaliser, ...]
    equalities: tuple[Equality, ...]
    key_checks: tuple[FieldCheck, ...]
    field_checks: tuple[FieldCheck, ...]
    kinds: tuple[str, ...]
    hashed: tuple[bool, ...]
    grace: timedelta
    mask_key: bool = False

    @classmethod
    def from_config(cls, config: ConsistencyConfig) -> ComparePlan:
        """The plan for ``config``'s fields, normalisers and grace window."""
        checks = compile_record((*config.key, *config.field_names))
        hashed_names = {f.name for f in config.fields if f.hashed}
        return cls(
            key_fields=config.key,
            fields=config.field_names,
            normalisers=tuple(make_normaliser(f) for f in config.fields),
            equalities=tuple(make_equality(f) for f in config.fields),
            key_checks=checks[: len(config.key)],
            # A hashed field arrives as a digest: the schema's pattern for the clear value
            # cannot apply, so it only has to be a digest.
            field_checks=tuple(
                _digest_check(f.name) if f.hashed else check
                for f, check in zip(config.fields, checks[len(config.key):], strict=True)),
            kinds=tuple(f.kind for f in config.fields),
            hashed=tuple(f.hashed for f in config.fields),
            grace=timedelta(seconds=config.grace_seconds),
            mask_key=bool(hashed_names & set(config.key)),
        )

    def validate(self, record: SourceRecord) -> tuple[Values | None, str | None]:
        """Normalised values and ``None``, or ``None`` and why the record is invalid."""
        for check, part in zip(self.key_checks, record.key, strict=True):
            why = check(part)
            if why is not None:
                return None, why
        out: list[str | None] = []
        for name, norm, check, value in zip(self.fields, self.normalisers, self.field_checks,
                                            record.values, strict=True):
            try:
                n = norm(value)
            except InvalidValue as exc:
                return None, f"{name}: {exc}"
            why = check(n)
            if why is not None:
                return None, why
            out.append(n)
        return tuple(out), None

    def show_key(self, key: Key) -> str:
        """The key as shown in samples: parts joined by ``|``, masked if a hashed field."""
        text = "|".join(key)
        return (mask(text) or "") if self.mask_key else text


class Group:
    """All records of one source under one key: the first, and how many there were.

    Normalisation is cached because the reference group is judged once per channel.
    """

    __slots__ = ("_done", "_reason", "_values", "copies", "record")

    def __init__(self, record: SourceRecord, copies: int = 1) -> None:
        self.record = record
        self.copies = copies
        self._done = False
        self._values: Values | None = None
        self._reason: str | None = None

    def normalised(self, plan: ComparePlan) -> tuple[Values | None, str | None]:
        """``plan.validate`` of the record, computed once."""
        if not self._done:
            self._values, self._reason = plan.validate(self.record)
            self._done = True
        return self._values, self._reason


Verdict = tuple[Outcome, tuple[str, ...], str | None]
"""Outcome, the differing fields (mismatch and pending_sync), the reason (invalid)."""

MATCH: Verdict = (Outcome.MATCH, (), None)
_DUPLICATE: Verdict = (Outcome.DUPLICATE_KEY, (), None)


def as_utc(value: datetime | str) -> datetime:
    """``updated_at`` as an aware datetime; naive values are taken as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidValue("updated_at: not an ISO timestamp") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def changed_within(updated_at: datetime | str | None, now: datetime, grace: timedelta) -> bool:
    """Whether a record changed within ``grace`` before ``now`` (or claims a future time)."""
    if updated_at is None or not grace:
        return False
    return now - as_utc(updated_at) <= grace


def judge(plan: ComparePlan, ref: Group | None, channel: Group | None, now: datetime) -> Verdict:
    """The outcome of one key for one channel; ``ref`` and/or ``channel`` is present.

    Precedence: duplicate_key, then invalid, then pending_sync for any difference within
    the grace window, then missing / extra / mismatch.  Records whose raw values are
    identical on both sides match without being normalised or validated: identical text
    is consistent whatever it holds, and this keeps ``full`` and ``checksum`` modes in
    exact agreement (checksum mode never reads identical rows).
    """
    try:
        if ref is not None and channel is not None:
            if ref.copies > 1 or channel.copies > 1:
                return _DUPLICATE
            if channel.record.values == ref.record.values:
                return MATCH
            rv, why = ref.normalised(plan)
            if why is not None:
                return (Outcome.INVALID, (), why)
            cv, why = channel.normalised(plan)
            if why is not None or rv is None or cv is None:
                return (Outcome.INVALID, (), why)
            diffs = tuple(f for f, eq, a, b in zip(plan.fields, plan.equalities, rv, cv,
                                                   strict=True) if not eq(a, b))
            if not diffs:
                return MATCH
            if (changed_within(ref.record.updated_at, now, plan.grace)
                    or changed_within(channel.record.updated_at, now, plan.grace)):
                return (Outcome.PENDING_SYNC, diffs, None)
            return (Outcome.MISMATCH, diffs, None)
        one = ref if ref is not None else channel
        assert one is not None
        if one.copies > 1:
            return _DUPLICATE
        _, why = one.normalised(plan)
        if why is not None:
            return (Outcome.INVALID, (), why)
        if changed_within(one.record.updated_at, now, plan.grace):
            return (Outcome.PENDING_SYNC, (), None)
        return (Outcome.MISSING if ref is not None else Outcome.EXTRA, (), None)
    except InvalidValue as exc:
        return (Outcome.INVALID, (), str(exc))


Head = tuple[Key, SourceRecord, int]
"""A key, its first record, and how many records a source holds under it."""


class SortedGroups(Iterator[Head]):
    """Groups a key-sorted stream by key, checking the order; counts rows and NULL keys.

    Records with a NULL key part cannot take part in the merge: they are only counted.
    """

    def __init__(self, name: str, records: Iterable[SourceRecord]) -> None:
        self.name = name
        self.rows_read = 0
        self.null_keys = 0
        self._records = iter(records)
        self._groups: Generator[Head, None, None] = self._walk(self._records)

    def __next__(self) -> Head:
        return next(self._groups)

    def close(self) -> None:
        """Stop reading: close the source's iterator now, which ends its query and
        releases its connection (and locks), instead of whenever it is collected."""
        self._groups.close()
        close = getattr(self._records, "close", None)
        if close is not None:
            close()

    def _walk(self, records: Iterator[SourceRecord]) -> Generator[Head, None, None]:
        # One generator, locals only: this runs once per row of every source.
        rows = nulls = copies = 0
        first: SourceRecord | None = None
        last: Key = ()
        for rec in records:
            rows += 1
            key = rec[0]
            if None in key:
                nulls += 1
                self.null_keys = nulls
                continue
            if first is not None:
                if key == last:
                    copies += 1
                    continue
                if key < last:
                    self.rows_read = rows
                    raise KeyOrderError(self.name, f"key #{rows} is not after the previous "
                                        "one in byte order; sort the source by key in "
                                        "binary collation")
                self.rows_read = rows - 1
                yield last, first, copies
            first, last, copies = rec, key, 1  # type: ignore[assignment]  # no NULL part
        self.rows_read = rows
        if first is not None:
            yield last, first, copies


def _advance(groups: SortedGroups) -> Head | None:
    return next(groups, None)


def _record(plan: ComparePlan, tally: Tally, key: Key, verdict: Verdict,
            ref: Group | None, channel: Group | None) -> None:
    outcome, fields, why = verdict
    tally.counts[outcome] += 1
    if outcome is Outcome.MISMATCH:
        tally.add_field_mismatches(fields)
    if not tally.wants_sample():
        return
    diffs: list[FieldDiff] = []
    if fields and ref is not None and channel is not None:
        rv, _ = ref.normalised(plan)
        cv, _ = channel.normalised(plan)
        if rv is not None and cv is not None:
            for f in fields:
                i = plan.fields.index(f)
                kind, hashed = plan.kinds[i], plan.hashed[i]
                diffs.append(FieldDiff(f, mask(rv[i], kind, hashed=hashed),
                                       mask(cv[i], kind, hashed=hashed)))
    tally.sample(plan.show_key(key), outcome, tuple(diffs), why)


def compare_streams(plan: ComparePlan, reference: str, ref_records: Iterable[SourceRecord],
                    channels: Mapping[str, Iterable[SourceRecord]], now: datetime,
                    max_samples: int = 20) -> dict[str, Tally]:
    """Compare every channel with the reference in one pass over all streams.

    A channel whose stream raises :class:`SourceError` is marked failed and dropped; the
    others go on.  If the reference fails, every channel fails.
    """
    tallies = {c: Tally(reference, c, max_samples) for c in channels}
    ref_groups = SortedGroups(reference, ref_records)
    names = list(channels)
    groups = [SortedGroups(c, channels[c]) for c in names]
    tally_of = [tallies[c] for c in names]
    try:
        return _merge(plan, now, ref_groups, groups, tally_of, tallies)
    finally:
        for g in (ref_groups, *groups):
            g.close()


def _merge(plan: ComparePlan, now: datetime, ref_groups: SortedGroups,
           groups: list[SortedGroups], tally_of: list[Tally], tallies: dict[str, Tally]
           ) -> dict[str, Tally]:
    counts_of = [t.counts for t in tally_of]
    alive = [True] * len(groups)
    heads: list[Head | None] = [None] * len(groups)

    def fail_all(exc: SourceError) -> dict[str, Tally]:
        for t in tally_of:
            t.fail(str(exc))
        return _finish(tallies, ref_groups, groups)

    def advance(i: int) -> None:
        try:
            heads[i] = next(groups[i], None)
        except SourceError as exc:
            tally_of[i].fail(str(exc))
            alive[i] = False
            heads[i] = None

    try:
        ref_head = _advance(ref_groups)
    except SourceError as exc:
        return fail_all(exc)
    for i in range(len(groups)):
        advance(i)
    match = Outcome.MATCH
    while True:
        key = ref_head[0] if ref_head is not None else None
        for h in heads:
            if h is not None and (key is None or h[0] < key):
                key = h[0]
        if key is None or not any(alive):
            break
        r = ref_head if ref_head is not None and ref_head[0] == key else None
        ref_group: Group | None = None
        for i, h in enumerate(heads):
            if not alive[i]:
                continue
            c = h if h is not None and h[0] == key else None
            if c is None and r is None:
                continue
            if (c is not None and r is not None and c[2] == 1 and r[2] == 1
                    and c[1][1] == r[1][1]):
                counts_of[i][match] += 1  # the common case: identical raw values
            else:
                if r is not None and ref_group is None:
                    ref_group = Group(r[1], r[2])
                ch_group = Group(c[1], c[2]) if c is not None else None
                verdict = judge(plan, ref_group, ch_group, now)
                _record(plan, tally_of[i], key, verdict, ref_group, ch_group)
            if c is not None:
                advance(i)
        if r is not None:
            try:
                ref_head = _advance(ref_groups)
            except SourceError as exc:
                return fail_all(exc)
    return _finish(tallies, ref_groups, groups)


def _finish(tallies: dict[str, Tally], ref_groups: SortedGroups,
            groups: list[SortedGroups]) -> dict[str, Tally]:
    for g in groups:
        tally = tallies[g.name]
        tally.rows_read[ref_groups.name] = ref_groups.rows_read
        tally.rows_read[g.name] = g.rows_read
        tally.counts[Outcome.INVALID] += ref_groups.null_keys + g.null_keys
        if (ref_groups.null_keys or g.null_keys) and tally.wants_sample():
            tally.sample("<NULL>", Outcome.INVALID, reason="NULL or unreadable key")
    return tallies
