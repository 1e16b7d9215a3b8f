"""Property: whatever is recorded, the store's window counts equal the reference math."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql

from monitor.slo.budget import MONTH, Bucket, Counts, window_counts
from monitor.store.postgres import PostgresProbeStore
from monitor.store.sql import SqlProbeStore
from monitor.store.sqlite import SqliteProbeStore
from probes.result import ProbeResult
from tests.stores import PG_DSN, postgres_available
from tests.support import require

NOW = 1_795_000_017.5  # 2026-11-18, not on a minute boundary on purpose
SHORT = ["5m", "30m", "1h", "2h", "6h", "1d"]
LONG = ["3d", "7d"]
OUTCOMES = ("ok", "degraded", "failure", "excluded")

events = st.lists(
    st.tuples(
        st.integers(0, 2),  # target
        st.floats(0.0, 8 * 86400.0),  # seconds before NOW
        st.sampled_from(OUTCOMES),
    ),
    max_size=40,
)


def _open(backend: str, where: str) -> SqlProbeStore:
    if backend == "sqlite":
        return SqliteProbeStore(str(Path(where) / "p.db"), clock=lambda: NOW)
    return PostgresProbeStore(PG_DSN, schema=where, clock=lambda: NOW)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_store_agrees_with_reference(backend: str) -> None:
    if backend == "postgres":
        require(postgres_available(), "PostgreSQL at 127.0.0.1:5432 is not reachable")

    @settings(max_examples=15 if backend == "postgres" else 40, deadline=None)
    @given(recorded=events, flush_after=st.integers(0, 40))
    def check(recorded: list[tuple[int, float, str]], flush_after: int) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            where = tmp if backend == "sqlite" else f"ow_store_test_{secrets.token_hex(4)}"
            store = _open(backend, where)
            try:
                run(store, recorded, flush_after)
            finally:
                store._conn.close()
                if backend == "postgres":
                    with psycopg.connect(PG_DSN, autocommit=True) as conn:
                        conn.execute(
                            sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(where))
                        )

    check()


def run(store: SqlProbeStore, recorded: list[tuple[int, float, str]], flush_after: int) -> None:
    minute: dict[str, list[Bucket]] = {}
    hour: dict[str, list[Bucket]] = {}
    for n, (target, before, outcome) in enumerate(recorded):
        t = NOW - before
        name = f"t{target}"
        result = ProbeResult(outcome != "failure", "ok", 0.1, degraded=outcome == "degraded",
                             started_at=t)  # fmt: skip
        store.record("chan", name, result, excluded=outcome == "excluded")
        if n == flush_after:
            store.flush()  # an extra flush mid-stream: additive upserts must add up
        if outcome != "excluded":
            c = Counts(int(result.success), 1, int(result.degraded))
            minute.setdefault(name, []).append(Bucket(t // 60 * 60, c))
            hour.setdefault(name, []).append(Bucket(t // 3600 * 3600, c))
    store.flush()
    month_from = NOW - 5 * 86400
    got = store.window_counts("target", SHORT + LONG, NOW, month_from)
    for name in {f"t{i}" for i, _, _ in recorded}:
        want = window_counts(minute.get(name, []), SHORT, NOW)
        want |= window_counts(hour.get(name, []), LONG, NOW, month_from)
        # The store omits names without buckets in a resolution; the reference says zero.
        have = got.get(name, {})
        for label in [*SHORT, *LONG, MONTH]:
            assert have.get(label, Counts()) == want[label], (name, label)
    channel = store.window_counts("channel", ["1d", "7d"], NOW).get("chan", {})
    for label in ("1d", "7d"):
        total = sum((got.get(n, {}).get(label, Counts()) for n in got), Counts())
        assert channel.get(label, Counts()) == total
