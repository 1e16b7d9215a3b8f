# ruff: noqa: RUF001  (full-width characters are the test data)
"""One dataset for every source test: each normalisation case and each outcome, with the
exact counts a correct comparison must report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitor.consistency.model import Outcome

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
OLD = "2024-01-01T00:00:00+00:00"
RECENT = "2024-06-01T11:55:00+00:00"  # 5 minutes before NOW: inside the 10m grace window
FIELDS = ["name", "phone", "id_number", "email", "birth_date", "risk_level", "balance"]
COLUMNS = ["customer_id", *FIELDS, "updated_at"]
BROKEN = "Zh\udcffng"  # a byte that was not UTF-8, as surrogateescape keeps it
REPLACED = "Zh\ufffdng"  # the same after a lossy decode upstream (databases store this)


def row(key: str | None, name: str | None = "Zhang San", phone: str | None = "13800138000",
        id_number: str | None = "11010519491231002X", email: str | None = "z.san@example.com",
        birth_date: str | None = "1990-01-05", risk_level: str | None = "3",
        balance: str | None = "100.00", updated_at: str = OLD) -> dict[str, Any]:
    return {"customer_id": key, "name": name, "phone": phone, "id_number": id_number,
            "email": email, "birth_date": birth_date, "risk_level": risk_level,
            "balance": balance, "updated_at": updated_at}


def reference() -> list[dict[str, Any]]:
    return [
        row("C001"),
        row("C002", name="Zhang San"),
        row("C003", email="li.si@example.com"),
        row("C004", name="WANG Wu"),
        row("C005", phone="13800138000"),
        row("C006", phone="13800138001"),
        row("C007", id_number="11010519491231002X"),
        row("C008", birth_date="2024-01-05"),
        row("C009", email=None),
        row("C010", balance="1200.50"),
        row("C011", risk_level="R3"),
        row("C012", name="Zhao Liu"),
        row("C013", phone="13900000000", risk_level="2"),
        row("C014", balance="100.00"),
        row("C015"),
        row("C016", updated_at=RECENT),
        row("C017"),
        row("C018"),
        row("C019"),
        row("C020"),
        row("C021", birth_date="2024-13-45"),
        row("C024"),
    ]


def channel(broken: str = BROKEN) -> list[dict[str, Any]]:
    """The channel's rows, sorted by key (the NULL key comes first, as MySQL sorts it)."""
    return [
        row(None),
        row("C001"),
        row("C002", name="  Zhang   San "),
        row("C003", email="Li.Si@Example.COM"),
        row("C004", name="ＷＡＮＧ　Ｗｕ"),
        row("C005", phone="+86 138-0013-8000"),
        row("C006", phone="0086 138 0013 8001"),
        row("C007", id_number="11010519491231002x"),
        row("C008", birth_date="2024年1月5日"),
        row("C009", email=""),
        row("C010", balance="1,200.505"),
        row("C011", risk_level="3"),
        row("C012", name="Zhao Qi"),
        row("C013", phone="13900000001", risk_level="R4"),
        row("C014", balance="100.02"),
        row("C017", name="Zhang Shan", updated_at=RECENT),
        row("C018"),
        row("C018", name="Zhang Er"),
        row("C019", name=broken),
        row("C020", phone="abc"),
        row("C021", birth_date="2024-13-45"),
        row("C022"),
        row("C023", updated_at=RECENT),
        row("C024", id_number="12345"),
    ]


EXPECTED = {
    Outcome.MATCH: 12,  # C021 is invalid in both, identically: consistent
    Outcome.MISMATCH: 3,
    Outcome.MISSING: 1,
    Outcome.EXTRA: 1,
    Outcome.INVALID: 4,  # C019 encoding, C020 phone, C024 ID, the NULL key
    Outcome.DUPLICATE_KEY: 1,
    Outcome.PENDING_SYNC: 3,  # C016 missing, C017 differs, C023 extra: all changed recently
}
EXPECTED_FIELDS = {"balance": 1, "name": 1, "phone": 1, "risk_level": 1}
REFERENCE_ROWS = 22
CHANNEL_ROWS = 24


def section(sources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A raw ``consistency:`` section comparing the dataset's fields."""
    return {
        "reference": "branch", "key": "customer_id", "fields": FIELDS, "grace": "10m",
        "normalisers": {"balance": {"kind": "number", "tolerance": 0.01}},
        "sources": sources, **extra,
    }
