"""Record sources, one small adapter per kind, all behind :class:`RecordSource`.

``SOURCE_KINDS`` is the one explicit registry from a configured ``kind`` to its adapter.
The PostgreSQL and MySQL entries import their driver when a source of that kind is opened:
psycopg and PyMySQL take a third of a second to import, and most commands never use them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeGuard

from monitor.consistency.cancel import CancelScope
from monitor.consistency.model import ConsistencyConfig, SourceConfig
from monitor.consistency.sources.base import Layout, RecordSource, SegmentSource
from monitor.consistency.sources.files import CsvSource, JsonLinesSource
from monitor.consistency.sources.http import HttpSource
from monitor.consistency.sources.sql import SqlSource
from monitor.consistency.sources.sqlite import SqliteSource

SourceFactory = Callable[[SourceConfig, Layout], RecordSource]


def _postgres(source: SourceConfig, layout: Layout) -> RecordSource:
    from monitor.consistency.sources.postgres import PostgresSource

    return PostgresSource(source, layout)


def _mysql(source: SourceConfig, layout: Layout) -> RecordSource:
    from monitor.consistency.sources.mysql import MySqlSource

    return MySqlSource(source, layout)


SOURCE_KINDS: dict[str, SourceFactory] = {
    "postgres": _postgres,
    "mysql": _mysql,
    "sqlite": SqliteSource,
    "csv": CsvSource,
    "jsonl": JsonLinesSource,
    "http": HttpSource,
}


def open_source(config: ConsistencyConfig, source: SourceConfig,
                cancel: CancelScope | None = None) -> RecordSource:
    """The adapter for ``source``; nothing is connected until records are read.

    With ``cancel``, the database sources end their connections when it is cancelled.
    """
    adapter = SOURCE_KINDS[source.kind](source, Layout.of(config, source))
    if cancel is not None and isinstance(adapter, SqlSource):
        adapter.cancel = cancel
    return adapter


def supports_checksum(source: RecordSource) -> TypeGuard[SegmentSource]:
    """Whether ``source`` can checksum segments inside its database."""
    dialect = getattr(source, "dialect", None)
    return isinstance(source, SegmentSource) and bool(getattr(dialect, "supports_checksum",
                                                              False))


__all__ = ["SOURCE_KINDS", "Layout", "RecordSource", "SegmentSource", "open_source",
           "supports_checksum"]
