"""Four SQLite customer stores, one per channel, with seeded inconsistencies.

The branch store is the reference.  Every record is synthetic ("Demo Customer 0042",
phones 1380000xxxx, ID numbers DEMO…, addresses at example.com): no real person's data.
Each channel's copy differs from the reference in the ways real copies do, and
:data:`SEEDED` says how, so that the expected ratios can be read off (and tested):

* *normalised*: the same value written differently (``+86 138-0000-0003``, doubled
  spaces, upper-case e-mail, ``R2`` against ``2``, ``1,024.50`` against ``1024.5``);
  these match;
* *real*: a changed phone number or name, a frozen account; these are mismatches;
* *pending sync*: a change made a minute ago, within ``grace``; counted neither way;
* *missing* and *extra*: a customer the channel lacks, and one only the channel has.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

CUSTOMERS: Final = 200
CHANNELS: Final = ("branch", "app", "website", "miniprogram")
CUSTOMER_FIELDS: Final = ("name", "phone", "id_number", "email", "risk_level")
ACCOUNT_FIELDS: Final = ("status", "currency", "balance")


@dataclass(frozen=True, slots=True)
class Seeded:
    """What one channel's copy of one dataset does to the reference's rows: per key,
    the fields it writes differently but equivalently (``normalised``), really differently
    (``real``), or changed recently (``pending``); keys it lacks and keys only it has."""

    normalised: Mapping[str, Mapping[str, str]]
    real: Mapping[str, Mapping[str, str]]
    pending: Mapping[str, Mapping[str, str]]
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()


def _cid(i: int) -> str:
    return f"C{i:04d}"


# Keys are (customer_id,) for customers and (customer_id, account_no) for accounts,
# written "C0042" and "C0042/6222020000000042".
SEEDED: Final[Mapping[str, Mapping[str, Seeded]]] = {
    "customers": {
        "app": Seeded(
            normalised={"C0003": {"phone": "+86 138-0000-0003"},
                        "C0004": {"name": "  Demo  Customer 0004 "},
                        "C0005": {"email": "DEMO.CUSTOMER0005@EXAMPLE.COM"}},
            real={"C0010": {"phone": "13911110010"},
                  "C0011": {"name": "Demo Customer 0011 (renamed)"}},
            pending={"C0020": {"phone": "13722220020"}, "C0021": {"name": "Demo Pending 0021"}},
            missing=("C0030",), extra=("C9001",)),
        "website": Seeded(
            normalised={"C0006": {"phone": "138 0000 0006"},
                        "C0007": {"phone": "138.0000.0007"}},
            real={"C0012": {"phone": "13633330012"}},
            pending={"C0022": {"email": "demo.pending0022@example.com"}}),
        "miniprogram": Seeded(
            normalised={"C0008": {"phone": "0086-138-0000-0008"},
                        # "Demo" in full-width forms, as some input methods type it
                        "C0009": {"name": "\uff24\uff45\uff4d\uff4f Customer 0009"}},
            real={"C0013": {"name": "Demo Customer 0013 (typo)"},
                  "C0014": {"phone": "13544440014"},
                  "C0015": {"risk_level": "5"}},
            pending={"C0023": {"phone": "13355550023"}},
            missing=("C0031", "C0032"), extra=("C9002",)),
    },
    "accounts": {
        "app": Seeded(
            normalised={"C0003/6222020000000003": {"balance": "1024.5"}},
            real={"C0040/6222020000000040": {"status": "FROZEN"}},
            pending={"C0041/6222020000000041": {"balance": "2000.00"}}),
        "website": Seeded(normalised={"C0006/6222020000000006": {"balance": "1,024.500"}},
                          real={}, pending={}),
        "miniprogram": Seeded(
            normalised={},
            real={"C0042/6222020000000042": {"currency": "USD"},
                  "C0043/6222020000000043": {"status": "CLOSED"}},
            pending={}, missing=("C0044/6222020000000044",)),
    },
}


def _customer(i: int) -> dict[str, str]:
    return {"customer_id": _cid(i), "name": f"Demo Customer {i:04d}",
            "phone": f"1380000{i % 10000:04d}", "id_number": f"DEMO{i:010d}",
            "email": f"demo.customer{i:04d}@example.com", "risk_level": f"R{i % 5 + 1}"}


def _account(i: int) -> dict[str, str]:
    return {"customer_id": _cid(i), "account_no": f"622202{i:010d}", "status": "ACTIVE",
            "currency": "CNY", "balance": "1,024.50"}


def _key(dataset: str, row: Mapping[str, str]) -> str:
    return row["customer_id"] if dataset == "customers" \
        else f"{row['customer_id']}/{row['account_no']}"


def _extra_row(dataset: str, key: str) -> dict[str, str]:
    n = int(key[1:5])
    return _customer(n) if dataset == "customers" else _account(n)


def channel_rows(dataset: str, channel: str, now: datetime) -> list[dict[str, str]]:
    """The rows of ``dataset`` in ``channel``'s store (``updated_at`` as ISO text, UTC):
    the reference's, with the channel's :data:`SEEDED` differences applied."""
    make = _customer if dataset == "customers" else _account
    settled = (now - timedelta(days=2)).isoformat()
    recent = (now - timedelta(minutes=1)).isoformat()
    rows = [{**make(i), "updated_at": settled} for i in range(1, CUSTOMERS + 1)]
    if channel == "branch":
        return rows
    seeded = SEEDED[dataset][channel]
    out = []
    for row in rows:
        key = _key(dataset, row)
        if key in seeded.missing:
            continue
        if dataset == "customers":
            # Channels store the risk level as a bare number, the branch as R1..R5.
            row["risk_level"] = row["risk_level"][1:]
        row.update(seeded.normalised.get(key, {}))
        row.update(seeded.real.get(key, {}))
        if key in seeded.pending:
            row.update(seeded.pending[key], updated_at=recent)
        out.append(row)
    out += [{**_extra_row(dataset, k), "updated_at": settled} for k in seeded.extra]
    return out


def expected_ratio(dataset: str, channel: str) -> float:
    """The consistency ratio the seeded differences make: matches over judged keys."""
    s = SEEDED[dataset][channel]
    judged = CUSTOMERS + len(s.extra) - len(s.pending)
    bad = len(s.real) + len(s.missing) + len(s.extra)
    return (judged - bad) / judged


_TABLES: Final = {
    "customers": ("customer_id", ("customer_id", *CUSTOMER_FIELDS, "updated_at")),
    "accounts": ("customer_id, account_no",
                 ("customer_id", "account_no", *ACCOUNT_FIELDS, "updated_at")),
}


def _write(conn: sqlite3.Connection, table: str, rows: Iterable[Mapping[str, str]]) -> None:
    key, columns = _TABLES[table]
    conn.execute(f"CREATE TABLE {table} ({', '.join(f'{c} TEXT' for c in columns)}, "
                 f"PRIMARY KEY ({key}))")
    conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                     [tuple(r[c] for c in columns) for r in rows])


def seed_stores(folder: Path, now: datetime | None = None) -> dict[str, Path]:
    """Write one SQLite file per channel into ``folder`` (tables ``customers`` and
    ``accounts``); returns the path per channel."""
    now = now or datetime.now(UTC)
    paths = {}
    for channel in CHANNELS:
        path = folder / f"{channel}.db"
        path.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(path)) as conn:
            for dataset in _TABLES:
                _write(conn, dataset, channel_rows(dataset, channel, now))
            conn.commit()
        paths[channel] = path
    return paths
