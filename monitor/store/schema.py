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

# Migration 4's flow-time bins, spelled out: the migration must not change if the bounds
# in monitor.slo.flowtime ever do (that takes a new migration; a test pins the two).
_FLOW_BINS_V4 = 80
_FLOW_COLUMNS_V4 = ", ".join(f"f{i} {{count}}" for i in range(_FLOW_BINS_V4))

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
    # 3: alerting (monitor.store.alert_store): the state machine's alerts and groups,
    # silences, the outbox of notifications, Slack threads, and the replicas' lease.
    # Documents are JSON text, byte for byte as written, on both backends.
    (
        """CREATE TABLE alerts (
            fingerprint TEXT PRIMARY KEY,
            labels TEXT NOT NULL,
            annotations TEXT NOT NULL,
            status TEXT NOT NULL,
            active_since {float} NOT NULL,
            updated_at {float} NOT NULL,
            fired_at {float},
            resolved_at {float}
        )""",
        """CREATE TABLE alert_groups (
            route TEXT NOT NULL,
            group_key TEXT NOT NULL,
            labels TEXT NOT NULL,
            created_at {float} NOT NULL,
            next_flush_at {float} NOT NULL,
            last_notified_at {float},
            notified TEXT NOT NULL,
            episode TEXT,
            seq {int} NOT NULL,
            PRIMARY KEY (route, group_key)
        )""",
        """CREATE TABLE silences (
            id TEXT PRIMARY KEY,
            matchers TEXT NOT NULL,
            starts_at {float} NOT NULL,
            ends_at {float} NOT NULL,
            author TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at {float} NOT NULL
        )""",
        "CREATE INDEX silences_ends_at ON silences (ends_at)",
        # ``episode`` repeats the payload's, so pruning threads need not parse payloads;
        # ``finished_at`` is when an entry was delivered or failed (what pruning reads).
        """CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            receiver TEXT NOT NULL,
            episode TEXT NOT NULL,
            created_at {float} NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at {float} NOT NULL,
            last_error TEXT,
            delivered_at {float},
            finished_at {float},
            receipt TEXT NOT NULL DEFAULT '{{}}'
        )""",
        "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
        "CREATE INDEX outbox_receiver ON outbox (receiver, state, created_at, id)",
        "CREATE INDEX outbox_episode ON outbox (receiver, episode, state)",
        """CREATE TABLE threads (
            receiver TEXT NOT NULL,
            episode TEXT NOT NULL,
            receipt TEXT NOT NULL,
            created_at {float} NOT NULL,
            PRIMARY KEY (receiver, episode)
        )""",
        """CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at {float} NOT NULL
        )""",
    ),
    # 4: flow-time histograms of journey and browser targets, per hour (kept as long as
    # the hour buckets): successful counted runs, their duration sum, the fastest and
    # slowest of them (percentiles are clamped to these, so interpolation inside a bin
    # never reads past every run), and a count per log-spaced bin.  Bins are nullable
    # columns, NULL for an empty bin: a NULL costs one header byte in SQLite and one bit
    # in PostgreSQL, so a row of ~80 mostly empty bins stays small, while writes remain
    # upserts that commute (sums, and the lesser/greater of the fastest/slowest run:
    # replicas, a re-queued batch) exactly as the bucket tables' do.
    (
        f"""CREATE TABLE flow_hour (
            target TEXT NOT NULL,
            start {{int}} NOT NULL,
            runs {{count}} NOT NULL DEFAULT 0,
            duration_sum {{float}} NOT NULL DEFAULT 0,
            min_duration {{float}} NOT NULL,
            max_duration {{float}} NOT NULL,
            {_FLOW_COLUMNS_V4},
            PRIMARY KEY (target, start)
        ){{without_rowid}}""",
    ),
    # 5: the dataset of each consistency run (issue 11); runs from before it were of the
    # one dataset a section then had, which is now called ``customers``.
    (
        "ALTER TABLE consistency_runs ADD COLUMN dataset TEXT NOT NULL DEFAULT 'customers'",
    ),
    # 6: incidents by end (issue 12): the status snapshot asks every second for those
    # still open or ended recently; without this index each ask scanned and sorted every
    # incident of the hour retention.  Open incidents (NULL) sort together in it too.
    (
        "CREATE INDEX incidents_end ON incidents (end_ts)",
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
