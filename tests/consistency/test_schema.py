"""The compiled customer-schema checks agree with jsonschema and never quote values."""

from __future__ import annotations

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.consistency.schema import compile_field, compile_record, customer_schema

FIELDS = ("customer_id", "name", "phone", "id_number", "email", "birth_date", "risk_level",
          "balance", "nickname")

values = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.from_regex(r"[0-9]{3,20}", fullmatch=True),
    st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True),
    st.sampled_from(["", "a@b.cn", "2024-01-05", "3", "R3", "Zh\udcffng", "Zh\ufffdng",
                     "a\x00b", "x" * 201, "x" * 1001, "-12.50"]),
)


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({f: values for f in FIELDS}))
def test_compiled_checks_agree_with_jsonschema(record: dict[str, str | None]) -> None:
    checks = compile_record(FIELDS)
    compiled_ok = all(check(record[f]) is None for f, check in zip(FIELDS, checks, strict=True))
    validator = jsonschema.Draft202012Validator(customer_schema())
    assert compiled_ok == validator.is_valid(record)


def test_reasons_name_the_field_not_the_value() -> None:
    checks = dict(zip(FIELDS, compile_record(FIELDS), strict=True))
    why = checks["phone"]("1380013800O")
    assert why == "phone: not a phone number of 5 to 15 digits"
    assert checks["name"]("Zh\udcffng") == (
        "name: not a name (broken encoding, control characters or longer than 200 characters)")
    assert checks["nickname"]("a\x00") is not None
    assert checks["customer_id"](None) == "customer_id: must not be empty"
    assert checks["name"](None) is None


def test_unsupported_keywords_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported keywords"):
        compile_field("x", {"type": "string", "format": "email"}, {})
    with pytest.raises(ValueError, match="only string/null"):
        compile_field("x", {"type": "integer"}, {})
    with pytest.raises(ValueError, match="has no field"):
        compile_record(("x",), {"properties": {}, "additionalProperties": False})
