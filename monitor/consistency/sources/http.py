"""Paged HTTP JSON API source, synchronous (the check runs in a worker thread).

Pages are walked by page number, row offset or an opaque cursor; items must come sorted
by key (the merge verifies it, and a server that ignores the page parameter and repeats
a page fails the order check instead of looping).  A non-200 status, a body that is not
JSON or lacks the item list, or a network failure on *any* page fails the check.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.consistency.errors import SourceError
from monitor.consistency.model import Key, SourceConfig, SourceRecord
from monitor.consistency.sources.base import (
    Layout,
    changed_since,
    only_keys,
    record_from_object,
    reservoir,
)


def _dig(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _with_params(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


class HttpSource:
    """Customer records from a paged JSON API (``kind: http``)."""

    def __init__(self, config: SourceConfig, layout: Layout) -> None:
        self.name = config.name
        self.config = config
        self.layout = layout
        self._unkeyed = (None,) * len(layout.key_columns)
        self._blank = (None,) * len(layout.value_columns)

    def _get(self, url: str, page: int) -> Any:
        request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                       **dict(self.config.headers)})
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_seconds) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response's socket
            raise SourceError(self.name, "status", f"HTTP {exc.code} on page {page}") from None
        except TimeoutError:
            raise SourceError(self.name, "timeout", f"no answer on page {page}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            kind = "timeout" if isinstance(reason, TimeoutError) else "connect"
            raise SourceError(self.name, kind, f"page {page}: {reason}") from None
        try:
            return json.loads(body)
        except ValueError:
            raise SourceError(self.name, "garbage", f"page {page} is not JSON") from None

    def _records(self) -> Iterator[SourceRecord]:
        pag = self.config.pagination
        base = self.config.url or ""
        page_no, offset, cursor = pag.first_page, 0, None
        for page in range(1, 1 << 62):
            params = {pag.size_param: str(pag.page_size)}
            if pag.style == "page":
                params[pag.page_param] = str(page_no)
            elif pag.style == "offset":
                params[pag.page_param] = str(offset)
            elif cursor is not None:
                params[pag.cursor_param] = cursor
            doc = self._get(_with_params(base, params), page)
            items = _dig(doc, pag.items_path)
            if not isinstance(items, list):
                raise SourceError(self.name, "garbage",
                                  f"page {page} has no list at {pag.items_path!r}")
            for obj in items:
                yield record_from_object(obj, self.layout, self._unkeyed, self._blank)
            if pag.style == "cursor":
                nxt = _dig(doc, pag.next_path)
                if nxt in (None, "") or not items:
                    return
                cursor = str(nxt)
            else:
                if len(items) < pag.page_size:
                    return
                page_no += 1
                offset += len(items)

    def stream(self, since: datetime | None = None) -> Iterator[SourceRecord]:
        """Every record, page after page."""
        if since is None:
            return self._records()
        return (r for r in self._records() if changed_since(r, since))

    def fetch(self, keys: Sequence[Key]) -> Iterator[SourceRecord]:
        """The records of ``keys``, by walking the pages (the API has no lookup contract)."""
        return only_keys(self._records(), keys)

    def sample_keys(self, n: int, seed: int) -> list[Key]:
        """``n`` keys drawn by reservoir sampling over one walk of the pages."""
        return reservoir(self._records(), n, seed)
