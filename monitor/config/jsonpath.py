"""The small JSON path language of journey ``extract`` rules: parse once, look up fast.

``$`` is the document; ``.name`` or ``['name']`` (``["name"]``) an object member; ``[0]`` an
array element (``[-1]`` the last).  No wildcards, filters or recursive descent: an
extraction names one value, and a path that could match several is a configuration
mistake, not a feature.  The configuration checks call :func:`parse` (its ``ValueError``
message is the problem reported at the path); the probe calls :func:`lookup`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

Segment = str | int
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_INDEX: Final = re.compile(r"\[(-?\d+)\]")
_QUOTED: Final = re.compile(r"""\[(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]""")


class Missing:
    """The result of a path that leads nowhere (``None`` is a real JSON ``null``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = Missing()


def parse(path: str) -> tuple[Segment, ...]:
    """The segments of ``path``; ``ValueError`` saying what is wrong and where."""
    if not path.startswith("$"):
        raise ValueError(f"JSON path {path!r} must start with $")
    out: list[Segment] = []
    i = 1
    while i < len(path):
        if path[i] == ".":
            m = _NAME.match(path, i + 1)
            if m is None:
                raise ValueError(f"JSON path {path!r}: expected a member name at "
                                 f"position {i + 1}")
            out.append(m.group())
            i = m.end()
            continue
        if path[i] == "[":
            m = _INDEX.match(path, i)
            if m is not None:
                out.append(int(m.group(1)))
                i = m.end()
                continue
            q = _QUOTED.match(path, i)
            if q is not None:
                raw = q.group(1) if q.group(1) is not None else q.group(2)
                out.append(re.sub(r"\\(.)", r"\1", raw))
                i = q.end()
                continue
        raise ValueError(f"JSON path {path!r}: unexpected {path[i]!r} at position {i} "
                         "(use .name, ['name'] or [index])")
    return tuple(out)


def lookup(document: Any, segments: tuple[Segment, ...]) -> Any:
    """The value at ``segments`` in ``document``, or :data:`MISSING`."""
    node = document
    for seg in segments:
        if isinstance(seg, str):
            if not isinstance(node, Mapping) or seg not in node:
                return MISSING
            node = node[seg]
        else:
            if not isinstance(node, list) or not -len(node) <= seg < len(node):
                return MISSING
            node = node[seg]
    return node
