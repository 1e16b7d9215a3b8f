"""YAML read the strict way: YAML 1.2 scalars, no duplicate or non-text keys.

``to: 17:00`` is the text "17:00", not 1020 (YAML 1.1's base 60); there are no implicit
dates and no octal.  A syntax error becomes one :class:`ConfigError` naming line and column.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from monitor.config.errors import ConfigError, ConfigProblem
from monitor.config.values import TOP_LEVEL, show


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate and non-text keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            mark = key_node.start_mark
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {show(key)} must be text (put it in quotes)", mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key]})", mark)
            seen[key] = mark.line + 1
        return super().construct_mapping(node, deep)


# YAML 1.2 numbers: no base-60 ("17:00" → 1020), no octal; and no implicit dates.
_YAML_INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$")
_YAML_FLOAT = re.compile(
    r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, {"tag:yaml.org,2002:int": _YAML_INT, "tag:yaml.org,2002:float": _YAML_FLOAT}
         .get(tag, regex))
        for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(text: str, file: str) -> Any:
    """The document in ``text``; a syntax error raises :class:`ConfigError` with its place."""
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else TOP_LEVEL
        context = ""
        if exc.context and exc.context_mark and exc.context_mark.line != getattr(mark, "line", -1):
            context = f" ({exc.context} from line {exc.context_mark.line + 1})"
        if "'\\t'" in (exc.problem or ""):
            context = " (indent with spaces, not tabs)"
        message = f"invalid YAML: {exc.problem}{context}"
        raise ConfigError([ConfigProblem(file, where, message)]) from None
