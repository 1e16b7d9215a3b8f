"""The exceptions of the consistency engine, in one tree.

``ConsistencyError``
 ├── ``SourceError``: a source is down, timed out, or returned something unusable.  The
 │    check of every channel that depends on it *fails*; it never reads as 0% or 100%.
 │    └── ``KeyOrderError``: a source yielded keys out of byte order, so a merge would
 │        silently mis-diff; treated like any other broken source.
 └── ``InvalidValue``: one value cannot be normalised.  Never escapes the comparison:
      the record is counted ``invalid`` with the reason.

Messages never contain record values: they end up in logs and Slack.
"""

from __future__ import annotations


class ConsistencyError(Exception):
    """Base class of every error raised by :mod:`monitor.consistency`."""


class SourceError(ConsistencyError):
    """A record source could not be read to the end.

    ``reason`` classifies it for metrics and alerts: ``connect`` (cannot reach or open
    it), ``timeout``, ``lost`` (connection dropped mid-stream), ``query`` (the database
    refused the statement), ``status`` (an HTTP error status), ``garbage`` (a response
    or file that cannot be parsed) or ``order`` (keys out of byte order).
    """

    def __init__(self, source: str, reason: str, detail: str) -> None:
        self.source = source
        self.reason = reason
        self.detail = detail
        super().__init__(f"source {source!r}: {reason}: {detail}")


class KeyOrderError(SourceError):
    """Keys arrived out of byte order (a collation that is not binary, or an unsorted file)."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(source, "order", detail)


class InvalidValue(ConsistencyError):
    """A value that its field's normaliser rejects; ``str()`` is a value-free reason."""
