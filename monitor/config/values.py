"""Values as omniwatch configuration spells them: durations, objectives, paths.

Pure functions, shared by the loader, the messages and anything that prints config back
(the CLI, the status page).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import datetime
from fractions import Fraction
from typing import Any

PathT = tuple[str | int, ...]

TOP_LEVEL = "(top level)"
# Kept equal to the pattern of "#/$defs/duration" in the schema (a test checks it).
DURATION_PATTERN = (
    r"^(?=[0-9])([0-9]+(\.[0-9]+)?w)?([0-9]+(\.[0-9]+)?d)?([0-9]+(\.[0-9]+)?h)?"
    r"([0-9]+(\.[0-9]+)?m)?([0-9]+(\.[0-9]+)?s)?([0-9]+(\.[0-9]+)?ms)?$"
)
_DURATION = re.compile(DURATION_PATTERN)
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_duration(value: str | float) -> float:
    """Seconds in ``value``: ``"1h30m"`` → 5400.0, ``"500ms"`` → 0.5; a number is seconds.

    Units go from largest to smallest, each at most once (w, d, h, m, s, ms).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{show(value)} is not a duration (use e.g. 500ms, 30s, 5m, 1h30m, 7d)")
    if not isinstance(value, str):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value} is not a duration (use e.g. 500ms, 30s, 5m, 1h30m, 7d)")
        return float(value)
    if not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 30s, 5m, 1h30m, 7d)")
    total_ms = sum(
        (Fraction(m.group(1)) * _UNIT_MS[m.group(2)] for m in _DURATION_PART.finditer(value)),
        Fraction(0),
    )
    return float(total_ms / 1000)


def duration_text(text: str) -> str | float:
    """A command-line duration as the config would hold it: a bare number is seconds
    (``"30"`` → 30, ``"2.5"`` → 2.5, as ``timeout: 30`` is in YAML); anything else is
    left to :func:`parse_duration`.  Whole numbers stay ``int``, so that a message
    shows ``0`` as the config's does, not ``0.0``."""
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    return float(text) if re.fullmatch(r"[0-9]+\.[0-9]+", text) else text


# Kept equal to the pattern of "#/$defs/timestamp" in the schema (a test checks it).
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
TIMESTAMP_HINT = "use ISO 8601, e.g. 2026-12-06T02:00:00+08:00"


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date and time as the config reads one: ``2026-12-06T02:00:00+08:00``,
    seconds and offset optional (naive without one: the caller picks the zone).

    The messages are the config's: the schema's for the shape, the builder's for a
    date that does not exist.
    """
    if not re.match(TIMESTAMP_PATTERN, text):
        raise ValueError(f"{text!r} is not a date and time ({TIMESTAMP_HINT})")
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date and time: {exc}") from None


# Kept equal to the pattern of "#/$defs/date" in the schema (a test checks it).
DATE_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?)?$"
)


def parse_date(text: str) -> datetime:
    """A date as the config reads one: ``2027-03-01`` (naive midnight), or a date and
    time as :func:`parse_timestamp` reads it."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return parse_timestamp(text)
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date: {exc}") from None


# Kept equal to the pattern of "#/$defs/server/properties/listen" in the schema.
_LISTEN = re.compile(r"(\[[0-9a-fA-F:.]+\]|[^:\s\[\]]*):([0-9]{1,5})")


def parse_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:9470"`` → ``("127.0.0.1", 9470)``; ``"[::1]:0"`` → ``("::1", 0)``.

    Port 0 picks a free port; an empty host is 127.0.0.1.  The same parser reads
    ``server.listen`` and ``--listen``.
    """
    m = _LISTEN.fullmatch(value)
    if m is None:
        raise ValueError(f"{value!r} is not a listen address "
                         "(use host:port, e.g. 127.0.0.1:9470 or [::1]:9470)")
    port = int(m.group(2))
    if port > 65535:
        raise ValueError(f"port {port} is out of range (0-65535)")
    return m.group(1).strip("[]") or "127.0.0.1", port


def listen_url(host: str, port: int, path: str = "/") -> str:
    """The URL a person opens for a listener: IPv6 hosts in brackets (``http://[::1]:80/``)."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"


def format_duration(seconds: float) -> str:
    """The shortest spelling of ``seconds`` (to the millisecond): 5400 → ``"1h30m"``."""
    ms, out = round(seconds * 1000), ""
    for unit in ("d", "h", "m", "s", "ms"):
        n, ms = divmod(ms, _UNIT_MS[unit])
        out += f"{n}{unit}" if n else ""
    return out or "0s"


def _open_ratio(value: str | float, noun: str, example: str) -> float:
    """A ratio strictly in (0, 1), written ``"99.9%"`` or ``0.999``; messages name ``noun``
    and suggest ``example`` (``"99.9% or 0.999"``)."""
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?%", value):
            raise ValueError(f"{value!r} is not {noun} (use e.g. {example})")
        ratio = float(Fraction(value[:-1]) / 100)
        if not 0.0 < ratio < 1.0:
            raise ValueError(
                f"{value!r} is not {noun}: it must lie strictly between 0% and 100%"
            )
        return ratio
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{show(value)} is not {noun} (use e.g. {example})")
    if not 0.0 < value < 1.0:
        hint = f" (write {value}% for a percentage)" if 1 < value < 100 else ""
        raise ValueError(
            f"{value} is not {noun}: a ratio must lie strictly between 0 and 1{hint}"
        )
    return float(value)


def parse_objective(value: str | float) -> float:
    """The ratio in ``value``: ``"99.9%"`` → 0.999, ``0.999`` → 0.999; strictly in (0, 1)."""
    return _open_ratio(value, "an objective", "99.9% or 0.999")


def parse_share(value: str | float) -> float:
    """The ratio in ``value``: ``"50%"`` → 0.5, ``0.5`` → 0.5; more than 0, at most 1.

    Unlike an objective, all (100%, 1) is a share: "every target down".
    """
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?%", value):
            raise ValueError(f"{value!r} is not a share (use e.g. 50% or 0.5)")
        ratio = float(Fraction(value[:-1]) / 100)
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"{value!r} is not a share: it must be more than 0% and at most "
                             "100%")
        return ratio
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{show(value)} is not a share (use e.g. 50% or 0.5)")
    if not 0.0 < value <= 1.0:
        hint = f" (write {value}% for a percentage)" if 1 < value <= 100 else ""
        raise ValueError(f"{value} is not a share: a ratio must be more than 0 and at most "
                         f"1{hint}")
    return float(value)


def parse_reduction(value: str | float) -> float:
    """The ratio in ``value``: ``"30%"`` → 0.3, ``0.3`` → 0.3; strictly in (0, 1).

    A planned reduction of a duration: all of it (100%) would plan a zero duration.
    """
    return _open_ratio(value, "a reduction", "30% or 0.3")


def format_path(path: Iterable[str | int]) -> str:
    """``("channels", "app", "targets", 2, "url")`` → ``channels.app.targets[2].url``.

    Keys other than letters, digits, ``_`` and ``-`` are quoted: ``headers["a.b"]``; the
    empty path is ``(top level)``.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or TOP_LEVEL


def show(value: Any) -> str:
    """``value`` as a short phrase: strings quoted, YAML spellings, collections by kind."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return str(value)
