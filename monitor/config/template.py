"""``{{ name }}`` placeholders of journey and browser steps: find them, fill them.

Distinct from ``${ENV}``, which the loader resolves once when the file is read: a
placeholder is filled each time a step runs, from the journey's ``vars`` and the values
earlier steps extracted.  Pure functions, shared by the configuration checks (which
variables a step uses) and the probes (filling them in).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

# A variable name is an identifier; spaces inside the braces are optional.
PLACEHOLDER: Final = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Shown instead of a value wherever a filled-in request is displayed.
MASK: Final = "***"


def names(text: str) -> list[str]:
    """The variable names ``text`` uses, in order of first use."""
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(text)))


def names_in(value: Any) -> Iterator[str]:
    """The variable names used by every string inside a JSON-like ``value``."""
    if isinstance(value, str):
        yield from names(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from names_in(k)
            yield from names_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from names_in(v)


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every placeholder replaced by its value.

    Raises ``KeyError`` (with the name) for a variable ``values`` lacks: the probe
    reports that, the configuration checks make it rare.
    """
    if "{{" not in text:
        return text
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def fill_in(value: Any, values: Mapping[str, str]) -> Any:
    """A copy of a JSON-like ``value`` with :func:`fill` applied to every string in it."""
    if isinstance(value, str):
        return fill(value, values)
    if isinstance(value, Mapping):
        return {fill(k, values): fill_in(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [fill_in(v, values) for v in value]
    return value


def masked(text: str) -> str:
    """``text`` for display: every placeholder shown as ``{{ name }}``, never its value."""
    return PLACEHOLDER.sub(lambda m: "{{ " + m.group(1) + " }}", text)
