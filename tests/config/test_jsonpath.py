"""The one-value JSON path of journey extract rules: what parses, what is refused (with the
message the config check reports), and what a path finds."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config.jsonpath import MISSING, lookup, parse


@pytest.mark.parametrize(("path", "segments"), [
    ("$", ()),
    ("$.data.token", ("data", "token")),
    ("$.items[0].id", ("items", 0, "id")),
    ("$.items[-1]", ("items", -1)),
    ("$['a.b']", ("a.b",)),
    ('$["a b"][2]', ("a b", 2)),
    (r"$['it\'s']", ("it's",)),
    (r'$["back\\slash"]', ("back\\slash",)),
    ("$['']", ("",)),
    ("$.x-request_id", ("x-request_id",)),
    ("$[0][1]", (0, 1)),
])
def test_parse(path: str, segments: tuple[str | int, ...]) -> None:
    assert parse(path) == segments


@pytest.mark.parametrize(("path", "message"), [
    ("data.token", "JSON path 'data.token' must start with $"),
    ("", "JSON path '' must start with $"),
    ("$.", "JSON path '$.': expected a member name at position 2"),
    ("$..token", "JSON path '$..token': expected a member name at position 2"),
    ("$.1st", "JSON path '$.1st': expected a member name at position 2"),
    ("$.data[*].token", "JSON path '$.data[*].token': unexpected '[' at position 6 "
                        "(use .name, ['name'] or [index])"),
    ("$.a[?(@.b)]", "JSON path '$.a[?(@.b)]': unexpected '[' at position 3 "
                    "(use .name, ['name'] or [index])"),
    ("$[0", "JSON path '$[0': unexpected '[' at position 1 (use .name, ['name'] or [index])"),
    ("$['open]", "JSON path \"$['open]\": unexpected '[' at position 1 "
                 "(use .name, ['name'] or [index])"),
    ("$data", "JSON path '$data': unexpected 'd' at position 1 "
              "(use .name, ['name'] or [index])"),
    ("$.a ", "JSON path '$.a ': unexpected ' ' at position 3 (use .name, ['name'] or [index])"),
])
def test_parse_refuses(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse(path)


DOC = json.loads('{"data": {"token": "t0k", "list": [1, 2, 3], "null": null, "zero": 0,'
                 ' "flag": false, "a.b": {"c": "dotted"}}}')


@pytest.mark.parametrize(("path", "found"), [
    ("$.data.token", "t0k"),
    ("$.data.list[0]", 1),
    ("$.data.list[-1]", 3),
    ("$.data.list[-3]", 1),
    ("$.data.null", None),
    ("$.data.zero", 0),
    ("$.data.flag", False),
    ("$.data['a.b'].c", "dotted"),
    ("$.data.list", [1, 2, 3]),
    ("$", DOC),
])
def test_lookup_finds(path: str, found: Any) -> None:
    assert lookup(DOC, parse(path)) == found


@pytest.mark.parametrize("path", [
    "$.nothing", "$.data.list[3]", "$.data.list[-4]", "$.data.token.length",
    "$.data.token[0]", "$.data[0]", "$.data.list.first", "$.data.null.x", "$.data.zero[0]",
])
def test_lookup_misses(path: str) -> None:
    assert lookup(DOC, parse(path)) is MISSING


def test_missing_is_not_null() -> None:
    assert lookup({"a": None}, parse("$.a")) is None
    assert lookup({}, parse("$.a")) is MISSING
    assert repr(MISSING) == "MISSING"


@given(st.lists(st.one_of(st.text(max_size=8), st.integers(-5, 5)), max_size=5))
def test_a_quoted_path_parses_back_to_its_segments(segments: list[str | int]) -> None:
    def quoted(seg: str | int) -> str:
        if isinstance(seg, int):
            return f"[{seg}]"
        return "['" + seg.replace("\\", "\\\\").replace("'", "\\'") + "']"

    assert parse("$" + "".join(quoted(s) for s in segments)) == tuple(segments)
