"""Running the second (builder) layer over a document the schema refused, so that
``config validate`` reports every problem at once.

The schema's errors are reported as they are; the values they point at are taken out of
the document before the builder sees it (a key is removed, a list item becomes ``None``,
so later paths keep their indices), and what the builder still cannot read is skipped
(:data:`SKIPPED`).  The builder's result is never used: the document was already refused.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from monitor.config.errors import ConfigProblem
from monitor.config.values import PathT, format_path

if TYPE_CHECKING:
    from jsonschema import ValidationError

# What a builder may raise on a part whose shape is wrong: a missing required key, a
# string where a mapping was expected, ...  Caught only when the schema already failed.
SKIPPED = (KeyError, IndexError, TypeError, AttributeError, ValueError)

_OBJECT_KEYWORDS = ("properties", "required", "additionalProperties", "propertyNames")


def _wants_object(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return "object" in kinds or any(k in schema for k in _OBJECT_KEYWORDS)


def bad_paths(errors: Iterable[ValidationError]) -> list[PathT]:
    """The paths of the values the schema refused as values (a wrong type, pattern,
    range ...).  An error *about* a mapping (a missing or unknown key) leaves it in place:
    its other keys still deserve their checks."""
    out = []
    for e in errors:
        if "propertyNames" in e.relative_schema_path:
            # A refused key: take out that entry, not the whole mapping with its good keys.
            out.append((*e.absolute_path, str(e.instance)))
            continue
        if isinstance(e.instance, dict) and _wants_object(e.schema) and e.validator != "type":
            continue
        out.append(tuple(e.absolute_path))
    return out


def prune(doc: Any, paths: Iterable[PathT]) -> Any:
    """A copy of ``doc`` without the values at ``paths``."""
    doc = copy.deepcopy(doc)
    for path in sorted(set(paths), key=len, reverse=True):
        node = doc
        for part in path[:-1]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break
        else:
            if not path:
                return {}
            last = path[-1]
            if isinstance(node, dict):
                node.pop(last, None)
            elif isinstance(node, list) and isinstance(last, int) and last < len(node):
                node[last] = None
    return doc


def news(problems: Iterable[ConfigProblem], refused: Iterable[PathT],
         prefix: PathT = ()) -> list[ConfigProblem]:
    """``problems`` but those at or under a refused path (``prefix`` + path): what the
    builder says of a value it never saw ("needs 'dsn'") is not news."""
    hidden = [format_path((*prefix, *p)) for p in refused]
    return [p for p in problems if not any(
        p.path == h or p.path.startswith((f"{h}.", f"{h}[")) for h in hidden)]
