# ruff: noqa: RUF001  (full-width characters are the test data)
"""Every normalisation case the issue names, value by value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from monitor.consistency.errors import InvalidValue
from monitor.consistency.model import FieldRule, Unreadable
from monitor.consistency.normalise import (
    DEFAULT_RISK_LEVELS,
    email,
    exact,
    hash_basis,
    hash_value,
    id_number,
    make_date,
    make_enum,
    make_equality,
    make_normaliser,
    number,
    phone,
    text,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("Zhang San", "Zhang San"),
    ("  Zhang   San ", "Zhang San"),  # surrounding and repeated whitespace
    ("Zhang\t\nSan", "Zhang San"),
    ("ＷＡＮＧ　Ｗｕ", "WANG Wu"),  # full-width letters and ideographic space (NFKC)
    ("ﾃｽﾄ", "テスト"),  # half-width katakana
    ("张三", "张三"),
    ("", None),  # empty string is NULL
    ("   ", None),
    (None, None),
])
def test_text(raw: str | None, expected: str | None) -> None:
    assert text(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Li.Si@Example.COM", "li.si@example.com"),
    (" li.si@example.com ", "li.si@example.com"),
    ("ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ", "li@example.com"),
    ("", None),
])
def test_email(raw: str, expected: str | None) -> None:
    assert email(raw) == expected


@pytest.mark.parametrize("raw", [
    "13800138000", "+86 138-0013-8000", "+8613800138000", "8613800138000",
    "0086 138 0013 8000", "138 0013 8000", "138-0013-8000", "(138) 0013 8000",
    "１３８００１３８０００",  # full-width digits
])
def test_phone_forms_are_equal(raw: str) -> None:
    assert phone(raw) == "13800138000"


def test_phone_keeps_landlines_and_rejects_letters() -> None:
    assert phone("010-8888 6666") == "01088886666"
    assert phone("") is None
    with pytest.raises(InvalidValue, match="not a phone number"):
        phone("abc")
    with pytest.raises(InvalidValue) as info:
        phone("138-0013-800O")
    assert "800O" not in str(info.value)  # reasons never quote the value


@pytest.mark.parametrize("raw", ["11010519491231002X", "11010519491231002x",
                                 " 110105 19491231 002x ", "１１０１０５１９４９１２３１００２ｘ"])
def test_id_number(raw: str) -> None:
    assert id_number(raw) == "11010519491231002X"


@pytest.mark.parametrize("raw", [
    "2024-01-05", "2024/01/05", "2024/1/5", "2024.01.05", "20240105", "2024年1月5日",
    "2024年01月05日", "05.01.2024", "2024-01-05 00:00:00", "2024-01-05T08:30:00Z",
    "２０２４－０１－０５",
])
def test_dates(raw: str) -> None:
    assert make_date()(raw) == "2024-01-05"


def test_dates_configured_and_invalid() -> None:
    assert make_date(("%d/%m/%Y",))("05/01/2024") == "2024-01-05"
    with pytest.raises(InvalidValue, match="not a date in a known format"):
        make_date()("05/01/2024")  # ambiguous by default
    with pytest.raises(InvalidValue, match="not a calendar date"):
        make_date()("2024-13-45")
    assert make_date()("") is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("100", "100"), ("100.00", "100"), ("1,200.50", "1200.5"), ("-0.0", "0"),
    ("1e3", "1000"), ("０．５", "0.5"), ("", None),
])
def test_number(raw: str, expected: str | None) -> None:
    assert number(raw) == expected


def test_number_rejects_garbage() -> None:
    for bad in ("abc", "NaN", "inf"):
        with pytest.raises(InvalidValue):
            number(bad)


def test_number_tolerance() -> None:
    eq = make_equality(FieldRule("balance", "number", tolerance=Decimal("0.01")))
    assert eq("1200.5", "1200.505")
    assert eq("100", "100.01")
    assert not eq("100", "100.02")
    assert not eq("100", None)
    assert eq(None, None)
    plain = make_equality(FieldRule("balance", "number"))
    assert not plain("100", "100.001")


def test_enum_maps_risk_levels() -> None:
    risk = make_enum(DEFAULT_RISK_LEVELS)
    assert risk("R3") == risk("r3") == risk("3") == risk(" ３ ") == risk("C3") == "3"
    assert risk("风险等级3") == "3"
    assert risk("R9") == "R9"  # unmapped values stay, and then fail the schema
    assert risk("") is None
    custom = make_enum((("低", "1"), ("High", "5")))
    assert custom("低") == "1"
    assert custom("HIGH") == "5"


def test_exact_and_unreadable() -> None:
    assert exact(" A ") == " A "
    assert exact(None) is None
    for norm in (text, email, phone, id_number, number, exact, make_date()):
        with pytest.raises(InvalidValue, match="name: not text"):
            norm(Unreadable("name: not text"))


def test_make_normaliser_dispatch() -> None:
    assert make_normaliser(FieldRule("phone", "phone"))("+86 13800138000") == "13800138000"
    assert make_normaliser(FieldRule("phone", "phone", hashed=True))("AbC") == "AbC"
    assert make_normaliser(FieldRule("d", "date", formats=("%d/%m/%Y",)))("5/1/2024") == \
        "2024-01-05"


def test_hash_basis_matches_the_sql_rules() -> None:
    assert hash_basis("phone", "+86 138-0013-8000") == "13800138000"
    assert hash_basis("id_number", " 11010519491231002x ") == "11010519491231002X"
    assert hash_basis("email", "A@B.CN") == "a@b.cn"
    assert hash_basis("text", "   ") is None
    digest = hash_value("phone", "pepper-123", "138 0013 8000")
    assert digest == hash_value("phone", "pepper-123", "+8613800138000")
    assert digest != hash_value("phone", "other-salt", "13800138000")
    assert len(digest or "") == 64
