"""File sources: CSV with a header row, and JSON Lines; both must be sorted by key.

Exports are read as UTF-8 with broken bytes kept as lone surrogates, which the customer
schema rejects: a bad row is counted ``invalid``, the file is still read to the end.  A
CSV row with the wrong number of fields is counted invalid under its key (once: its key
is not also ``missing``); a line that is not a record at all (not JSON, no key) is
counted invalid too.  Sort exports in byte order (``LC_ALL=C sort``); an unsorted file
fails the check loudly.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO

from monitor.consistency.errors import SourceError
from monitor.consistency.model import Key, SourceConfig, SourceRecord, Unreadable
from monitor.consistency.sources.base import (
    Layout,
    changed_since,
    only_keys,
    record_from_object,
    reservoir,
)


class _FileSource:
    def __init__(self, config: SourceConfig, layout: Layout) -> None:
        self.name = config.name
        self.config = config
        self.layout = layout
        self._unkeyed = (None,) * len(layout.key_columns)
        self._blank = (None,) * len(layout.value_columns)

    def _open(self) -> IO[str]:
        try:
            return Path(self.config.path or "").open(
                encoding="utf-8-sig", errors="surrogateescape", newline="")
        except OSError as exc:
            raise SourceError(self.name, "connect", exc.strerror or str(exc)) from None

    def _records(self) -> Iterator[SourceRecord]:
        raise NotImplementedError

    def stream(self, since: datetime | None = None) -> Iterator[SourceRecord]:
        """Every record in file order (which must be key order)."""
        if since is None:
            return self._records()
        return (r for r in self._records() if changed_since(r, since))

    def fetch(self, keys: Sequence[Key]) -> Iterator[SourceRecord]:
        """The records of ``keys``: a file has no index, so this reads it through."""
        return only_keys(self._records(), keys)

    def sample_keys(self, n: int, seed: int) -> list[Key]:
        """``n`` keys drawn by reservoir sampling over one read of the file."""
        return reservoir(self._records(), n, seed)


class CsvSource(_FileSource):
    """Customer records in a CSV export with a header row (``kind: csv``)."""

    def _records(self) -> Iterator[SourceRecord]:
        with self._open() as f:
            reader = csv.reader(f)
            try:
                header = next(reader, None)
                if header is None:
                    raise SourceError(self.name, "garbage", "empty file: no header row")
                where = {h.strip(): i for i, h in enumerate(header)}
                wanted = [*self.layout.key_columns, *self.layout.value_columns]
                if self.layout.updated_at:
                    wanted.append(self.layout.updated_at)
                missing = [c for c in wanted if c not in where]
                if missing:
                    raise SourceError(self.name, "garbage",
                                      f"header has no column {', '.join(map(repr, missing))}")
                ki = [where[c] for c in self.layout.key_columns]
                vi = [where[c] for c in self.layout.value_columns]
                ui = where[self.layout.updated_at] if self.layout.updated_at else None
                width = len(header)
                for row in reader:
                    if len(row) != width:
                        # The row is counted once, invalid, under its key when it has one:
                        # an unkeyed record would also leave its key "missing".
                        bad = Unreadable(f"the row has {len(row)} fields, the header {width}")
                        key = (tuple(row[i] or None for i in ki)
                               if all(i < len(row) for i in ki) else self._unkeyed)
                        yield SourceRecord(key, (bad,) * len(vi), None)
                        continue
                    key = tuple(row[i] or None for i in ki)
                    values = self.layout.hash_in_python(tuple(row[i] for i in vi))
                    yield SourceRecord(key, values, None if ui is None else row[ui] or None)
            except csv.Error as exc:
                raise SourceError(self.name, "garbage",
                                  f"line {reader.line_num}: {exc}") from None


class JsonLinesSource(_FileSource):
    """Customer records in a JSON Lines export, one object per line (``kind: jsonl``)."""

    def _records(self) -> Iterator[SourceRecord]:
        with self._open() as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    obj = None
                yield record_from_object(obj, self.layout, self._unkeyed, self._blank)
