"""One target from command-line values, checked as the config file checks a target.

``omniwatch probe URL --timeout 0s`` must be refused as ``timeout: 0s`` is in a file.  The
command line writes its values as a target entry would be written (``{"probe": "http",
"url": ..., "timeout": "0s", "expect": {"status": [999]}}``); each value is checked
against the rule the config schema gives it (type, enum, range, pattern; words from
:mod:`monitor.config.messages`), then the target goes through the config's own builder
(:class:`monitor.config.build.Builder`: durations, regexes, latency below timeout, a body
with GET, files that exist).  The schema's JSON is read, but jsonschema is not imported:
a one-shot probe stays cheap to start (``tests/test_layout.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from monitor.config.build import Builder, Defaults
from monitor.config.lenient import prune
from monitor.config.loader import config_schema
from monitor.config.messages import keyword_message
from monitor.config.model import DEFAULT_TIMEOUT_SECONDS, Target
from monitor.config.values import PathT

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "integer": (int,),
    "number": (int, float), "boolean": (bool,),
}
# Long enough that the builder's "timeout longer than interval" never fires: a one-shot
# probe has no interval.
_NO_INTERVAL = 10.0 * 365 * 86400


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind not in ("boolean",):
        return False
    return isinstance(value, _TYPES.get(kind, ()))


def _refused(kw: str, spec: Any, value: Any) -> bool:
    if kw == "enum":
        return value not in spec
    if kw in ("minimum", "maximum") and isinstance(value, int | float):
        return bool(value < spec if kw == "minimum" else value > spec)
    if kw == "pattern" and isinstance(value, str):
        return re.search(spec, value) is None
    if kw == "minLength" and isinstance(value, str):
        return bool(len(value) < spec)
    return False


def _resolve(ref: str) -> Any:
    node: Any = config_schema()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def check_values(value: Any, schema: Mapping[str, Any], where: str,
                 path: PathT = ()) -> Iterator[tuple[PathT, str]]:
    """The problems of ``value`` under ``schema`` (found at ``where`` in the config schema),
    for the keywords a command-line value can fail: type, enum, range, pattern, unknown
    keys.  ``oneOf`` (durations, objectives) is left to the builder's parsers."""
    if "$ref" in schema:
        yield from check_values(value, _resolve(schema["$ref"]), schema["$ref"], path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, t) for t in types):
            yield path, keyword_message(f"{where}/type", "type", schema["type"], value)
            return
    for kw in ("enum", "minimum", "maximum", "minLength", "pattern"):
        if kw in schema and _refused(kw, schema[kw], value):
            yield path, keyword_message(f"{where}/{kw}", kw, schema[kw], value)
    if isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        names = schema.get("propertyNames", {}).get("pattern")
        for k, v in value.items():
            if names is not None and re.search(names, k) is None:
                yield (*path, k), keyword_message(f"{where}/propertyNames/pattern", "pattern",
                                                  names, k)
            if k in props:
                yield from check_values(v, props[k], f"{where}/properties/{k}", (*path, k))
            elif isinstance(extra, dict):
                yield from check_values(v, extra, f"{where}/additionalProperties", (*path, k))
            elif extra is False:
                yield (*path, k), "unknown"
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from check_values(item, schema["items"], f"{where}/items", (*path, i))


def build_adhoc(raw: Mapping[str, Any], base_dir: Path | None = None
                ) -> tuple[Target | None, list[tuple[PathT, str]]]:
    """The target ``raw`` describes (a ``targets:`` entry with ``name`` and ``probe``) and
    every problem with it, by path inside the entry; the target is None when there are
    problems.  An unknown key is reported with the message ``"unknown"``."""
    kind = raw["probe"]
    where = f"#/$defs/{kind}"
    problems = list(check_values(dict(raw), _resolve(where), where))
    doc = prune(raw, [p for p, _ in problems])
    builder = Builder(base_dir or Path.cwd(), {}, lenient=bool(problems))
    target = builder.part(None, builder.target, doc, "adhoc", (),
                          Defaults(_NO_INTERVAL, DEFAULT_TIMEOUT_SECONDS, 0))
    problems += builder.problems
    return (None if problems else target), problems
