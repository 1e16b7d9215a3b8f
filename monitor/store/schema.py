"""Versioned schema migrations, shared by the SQLite and PostgreSQL backends.

Migrations are an ordered list; migration *n* (1-based) brings the schema to version *n*.
Each runs in its own transaction together with the row recording it in
``schema_version``, so a crash mid-migration leaves the previous version intact.  Append
new migrations; never edit one that has shipped.

Statements are templates: ``{int}`` (timestamps), ``{count}`` (probe counts per bucket:
32 bits in PostgreSQL, which halves its row size; a bucket never holds 2^31 probes),
``{float}`` and ``{without_rowid}`` become each dialect's spelling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from monitor.store.buckets import HISTOGRAM_BINS

_HISTOGRAM_COLUMNS = ", ".join(f"h{i} {{count}} NOT NULL DEFAULT 0" for i in range(HISTOGRAM_BINS))


def _bucket_table(name: str, key: str) -> str:
    return f"""CREATE TABLE {name} (
        {key} TEXT NOT NULL,
        start {{int}} NOT NULL,
        good {{count}} NOT NULL DEFAULT 0,
        total {{count}} NOT NULL DEFAULT 0,
        degraded {{count}} NOT NULL DEFAULT 0,
        excluded {{count}} NOT NULL DEFAULT 0,
        latency_sum {{float}} NOT NULL DEFAULT 0,
        {_HISTOGRAM_COLUMNS},
        reason TEXT,
        PRIMARY KEY ({key}, start)
    ){{without_rowid}}"""


MIGRATIONS: Final[Sequence[Sequence[str]]] = (
    # 1: bucket tables per target and per channel (pre-aggregated, so a channel SLO never
    # scans its targets), incidents, and the target -> channel map for reports.
    (
        _bucket_table("target_minute", "target"),
        _bucket_table("target_hour", "target"),
        _bucket_table("channel_minute", "channel"),
        _bucket_table("channel_hour", "channel"),
        # No index on start alone: retention prunes name by name along the primary key,
        # and the index would cost a third of the disk.
        """CREATE TABLE targets (
            target TEXT PRIMARY KEY,
            channel TEXT NOT NULL
        )""",
        """CREATE TABLE incidents (
            target TEXT NOT NULL,
            start {float} NOT NULL,
            end_ts {float},
            channel TEXT NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (target, start)
        )""",
        "CREATE INDEX incidents_channel_start ON incidents (channel, start)",
    ),
    # 2: the history of consistency checks: counts only, never a customer value (the
    # masked samples stay in the run's own output).
    (
        """CREATE TABLE consistency_runs (
            started_at {float} NOT NULL,
            reference TEXT NOT NULL,
            channel TEXT NOT NULL,
            mode TEXT NOT NULL,
            success INTEGER NOT NULL,
            ratio {float},
            objective {float} NOT NULL,
            judged {int} NOT NULL,
            counts TEXT NOT NULL,
            field_mismatches TEXT NOT NULL,
            duration_seconds {float} NOT NULL,
            error TEXT,
            PRIMARY KEY (channel, started_at)
        )""",
    ),
)

DIALECTS: Final[Mapping[str, Mapping[str, str]]] = {
    "sqlite": {
        "int": "INTEGER",
        "count": "INTEGER",
        "float": "REAL",
        "without_rowid": " WITHOUT ROWID",
    },
    "postgres": {
        "int": "BIGINT",
        "count": "INTEGER",
        "float": "DOUBLE PRECISION",
        "without_rowid": "",
    },
}

VERSION_TABLE: Final = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL
)"""


def statements(version: int, dialect: str) -> list[str]:
    """The statements of migration ``version`` (1-based) in ``dialect``."""
    words = DIALECTS[dialect]
    return [s.format(**words) for s in MIGRATIONS[version - 1]]


LATEST_VERSION: Final = len(MIGRATIONS)
