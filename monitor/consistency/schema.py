"""``schemas/customer.schema.json`` compiled into per-field checks fast enough for 10^6 rows.

A general JSON Schema validator costs tens of microseconds a record; the canonical record
is flat, so the schema is compiled into one small function per field.  The compiler
accepts only the keywords it implements and refuses anything else, so the compiled check
cannot silently drift from the schema (a test compares both against ``jsonschema``).
Reasons name the field and the failing schema's ``description``, never the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

FieldCheck = Callable[[str | None], str | None]
"""Returns ``None`` for a valid value, or a value-free reason."""

_ANNOTATIONS = {"description", "title", "$comment", "$schema", "$id", "$defs", "examples"}
_FIELD_KEYWORDS = {"type", "minLength", "maxLength", "pattern", "enum", "$ref"} | _ANNOTATIONS
_RECORD_KEYWORDS = {"type", "required", "properties", "additionalProperties"} | _ANNOTATIONS


@cache
def customer_schema() -> dict[str, Any]:
    """The packaged canonical customer record schema."""
    text = resources.files("schemas").joinpath("customer.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    if set(node) - {"$ref"} - _ANNOTATIONS:
        raise ValueError(f"$ref with sibling keywords is not supported: {sorted(node)}")
    if not ref.startswith("#/$defs/"):
        raise ValueError(f"only local #/$defs/ references are supported, not {ref!r}")
    return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)


def compile_field(name: str, node: Mapping[str, Any], root: Mapping[str, Any]) -> FieldCheck:
    """One field's check; ``ValueError`` when the schema uses an unsupported keyword."""
    node = _resolve(node, root)
    unknown = set(node) - _FIELD_KEYWORDS
    if unknown:
        raise ValueError(f"customer schema field {name!r}: unsupported keywords {sorted(unknown)}")
    types = node.get("type", ["string", "null"])
    types = {types} if isinstance(types, str) else set(types)
    if not types <= {"string", "null"}:
        raise ValueError(f"customer schema field {name!r}: only string/null types are supported")
    nullable = "null" in types
    min_len = int(node.get("minLength", 0))
    max_len = node.get("maxLength")
    pattern = re.compile(node["pattern"]) if "pattern" in node else None
    enum = frozenset(node["enum"]) if "enum" in node else None
    why = f"{name}: {node.get('description', 'does not match the customer schema')}"

    def check(value: str | None) -> str | None:
        if value is None:
            return None if nullable else f"{name}: must not be empty"
        if "string" not in types:
            return why
        n = len(value)
        if n < min_len or (max_len is not None and n > max_len):
            return why
        if pattern is not None and pattern.search(value) is None:
            return why
        if enum is not None and value not in enum:
            return why
        return None

    return check


def compile_record(fields: Sequence[str], schema: Mapping[str, Any] | None = None
                   ) -> tuple[FieldCheck, ...]:
    """Checks for a record of ``fields`` (key fields first, then compared fields)."""
    root = customer_schema() if schema is None else schema
    unknown = set(root) - _RECORD_KEYWORDS
    if unknown:
        raise ValueError(f"customer schema: unsupported keywords {sorted(unknown)}")
    props: Mapping[str, Any] = root.get("properties", {})
    extra = root.get("additionalProperties", True)
    checks = []
    for name in fields:
        node = props.get(name)
        if node is None:
            if extra is False:
                raise ValueError(f"customer schema has no field {name!r}")
            node = {} if extra is True else extra
        checks.append(compile_field(name, node, root))
    return tuple(checks)


def required_fields(schema: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Fields the schema requires; a configuration must compare them or use them as key."""
    root = customer_schema() if schema is None else schema
    return tuple(root.get("required", ()))
