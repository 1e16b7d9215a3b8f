"""Per-field normalisers: make values that mean the same thing compare equal.

Every normaliser takes the raw text (or ``None``) and returns canonical text or ``None``;
``None`` and the empty string are the same (a blank is not a value).  A value that cannot
be normalised raises :class:`InvalidValue` with a reason that never quotes the value.

Hashing (``hash_value``) mirrors the SQL expressions the database sources use for
``hash_fields``, so a CSV file and a PostgreSQL table hash a phone number identically.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from monitor.consistency.errors import InvalidValue
from monitor.consistency.model import FieldRule, Unreadable

Normaliser = Callable[[str | None], str | None]
Equality = Callable[[str | None, str | None], bool]

DEFAULT_DATE_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%d.%m.%Y",
)
"""Year-first formats, plus the unambiguous day-first dotted form.  Slash forms with the
year last (01/02/2024) are ambiguous between locales, so they must be configured."""

DEFAULT_RISK_LEVELS = tuple(
    (f"{prefix}{n}", str(n)) for n in range(1, 6) for prefix in ("R", "C", "风险等级")
)

_PHONE_DROP = str.maketrans("", "", " -().\t")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME_TAIL = re.compile(r"[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9:]+)?$")


def _check(value: str) -> None:
    if type(value) is Unreadable:
        raise InvalidValue(value.reason)


def text(value: str | None) -> str | None:
    """NFKC (full-width → half-width), trim, and collapse runs of whitespace to one space."""
    if value is None:
        return None
    _check(value)
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    out = " ".join(value.split())
    return out or None


def email(value: str | None) -> str | None:
    """``text`` and case-folded: addresses are compared case-insensitively."""
    out = text(value)
    return None if out is None else out.casefold()


def phone(value: str | None) -> str | None:
    """Digits only; ``+86``/``0086``/``86`` before an 11-digit mainland number dropped."""
    out = text(value)
    if out is None:
        return None
    digits = out.translate(_PHONE_DROP)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidValue("not a phone number")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def id_number(value: str | None) -> str | None:
    """Resident ID numbers: spaces removed, check letter ``x`` upper-cased."""
    out = text(value)
    return None if out is None else out.replace(" ", "").upper()


def make_date(formats: tuple[str, ...] = ()) -> Normaliser:
    """A normaliser to ISO ``YYYY-MM-DD`` trying ``formats`` (default: common forms).

    A time of day after the date (``2024-01-05 00:00:00``) is ignored.
    """
    tried = formats or DEFAULT_DATE_FORMATS

    def normalise(value: str | None) -> str | None:
        out = text(value)
        if out is None:
            return None
        if _ISO_DATE.fullmatch(out):
            try:
                return date.fromisoformat(out).isoformat()
            except ValueError:
                raise InvalidValue("not a calendar date") from None
        out = _DATETIME_TAIL.sub("", out)
        for fmt in tried:
            try:
                return datetime.strptime(out, fmt).date().isoformat()
            except ValueError:
                continue
        raise InvalidValue("not a date in a known format")

    return normalise


def number(value: str | None) -> str | None:
    """A finite decimal, thousands separators removed: ``1,200.50`` → ``1200.5``."""
    out = text(value)
    if out is None:
        return None
    try:
        d = Decimal(out.replace(",", ""))
    except InvalidOperation:
        raise InvalidValue("not a number") from None
    if not d.is_finite():
        raise InvalidValue("not a finite number")
    d = d.normalize()
    return format(d if d else Decimal(0), "f")


def make_enum(mapping: tuple[tuple[str, str], ...]) -> Normaliser:
    """``text``, then looked up case-insensitively in ``mapping``; unmapped values stay."""
    table: dict[str, str] = {}
    for raw, canonical in mapping:
        key, value = text(raw), text(canonical)
        if key is not None and value is not None:
            table[key.upper()] = value

    def normalise(value: str | None) -> str | None:
        out = text(value)
        if out is None:
            return None
        return table.get(out.upper(), out)

    return normalise


def exact(value: str | None) -> str | None:
    """Unchanged: for opaque values such as digests."""
    if value is not None:
        _check(value)
    return value


def make_normaliser(rule: FieldRule) -> Normaliser:
    """The normaliser for ``rule``; hashed fields arrive as digests and stay exact."""
    if rule.hashed:
        return exact
    if rule.kind == "date":
        return make_date(rule.formats)
    if rule.kind == "enum":
        return make_enum(rule.mapping)
    simple: dict[str, Normaliser] = {
        "text": text, "email": email, "phone": phone, "id_number": id_number,
        "number": number, "exact": exact,
    }
    return simple[rule.kind]


def _equal(a: str | None, b: str | None) -> bool:
    return a == b


def make_equality(rule: FieldRule) -> Equality:
    """How two normalised values of ``rule`` compare: within ``tolerance`` for numbers."""
    tolerance = rule.tolerance
    if rule.kind != "number" or not tolerance or rule.hashed:
        return _equal

    def within(a: str | None, b: str | None) -> bool:
        if a is None or b is None:
            return a is b
        return abs(Decimal(a) - Decimal(b)) <= tolerance

    return within


def hash_basis(kind: str, value: str | None) -> str | None:
    """The value hashed for a ``hash_fields`` field: what SQL can do the same everywhere.

    Trimmed; lower-cased for ``email``, upper-cased for ``id_number``, digits only without
    a leading ``86`` or ``0086`` for an 11-digit ``phone``.  Blank becomes ``None``.  No NFKC: MySQL
    cannot do it, so full-width differences in hashed fields read as mismatches.
    """
    if value is None:
        return None
    v = value.strip(" ")
    if kind == "email":
        v = v.lower()
    elif kind == "id_number":
        v = v.upper()
    elif kind == "phone":
        v = "".join(c for c in v if "0" <= c <= "9")
        if len(v) == 13 and v.startswith("86"):
            v = v[2:]
        elif len(v) == 15 and v.startswith("0086"):
            v = v[4:]
    return v or None


def hash_value(kind: str, salt: str, value: str | None) -> str | None:
    """The salted digest as a database source computes it: hex ``sha256(salt || basis)``."""
    basis = hash_basis(kind, value)
    if basis is None:
        return None
    return hashlib.sha256((salt + basis).encode("utf-8", "surrogateescape")).hexdigest()
