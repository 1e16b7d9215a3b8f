"""How the status page writes numbers, times and durations: pure, HTML-escaped text.

Every function takes the language's word table and returns text that is safe to put
into HTML as it is.  A value the snapshot does not know (``None``) reads "no data",
never 0 or 100%: a monitor that cannot tell must not look healthy.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping
from typing import Any

Words = Mapping[str, str]


def esc(value: Any) -> str:
    """``value`` as text, escaped for HTML content and quoted attribute values."""
    return html.escape(str(value), quote=True)


def no_data(w: Words) -> str:
    return f'<span class="nodata">{esc(w["no_data"])}</span>'


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) or math.isinf(value) else float(value)


def percent(w: Words, ratio: Any, digits: int = 3) -> str:
    """``0.99912`` → ``99.912%``; trailing zeros are kept so columns line up.

    Rounded *down*, as the badges are: beside its ✓/✕ mark, a ratio just short of its
    objective must not read as meeting it (0.9989996 is 99.899%, not 99.900% ✕)."""
    x = _number(ratio)
    if x is None:
        return no_data(w)
    # The small nudge undoes binary error (0.999 * 1e5 is 99899.99999999999).
    shown = math.floor(x * 10 ** (digits + 2) + 1e-6) / 10 ** digits
    return esc(f"{shown:.{digits}f}%")


def objective(ratio: Any) -> str:
    """An objective as people say it: ``0.999`` → ``99.9%`` (no padding zeros)."""
    x = _number(ratio)
    if x is None:
        return ""
    return esc(f"{x * 100:.4f}".rstrip("0").rstrip(".") + "%")


def factor(w: Words, value: Any) -> str:
    """A burn rate: ``2.5`` → ``2.5×`` (times)."""  # noqa: RUF002
    x = _number(value)
    if x is None:
        return no_data(w)
    return esc(f"{x:.1f}\u00d7" if x < 100 else f"{x:.0f}\u00d7")


def count(w: Words, value: Any) -> str:
    x = _number(value)
    if x is None:
        return no_data(w)
    return esc(f"{int(x):,}")


def seconds(w: Words, value: Any) -> str:
    """A latency or flow time: ``0.123`` → ``123 ms``, ``1.8`` → ``1.80 s``."""
    x = _number(value)
    if x is None:
        return no_data(w)
    if x < 1:
        return esc(w["unit.ms"].format(n=f"{x * 1000:.0f}"))
    return esc(w["unit.s"].format(n=f"{x:.2f}" if x < 10 else f"{x:.0f}"))


def _span_text(w: Words, value: float) -> str:
    x = abs(value)
    if x < 60:
        return w["unit.s"].format(n=f"{x:.0f}")
    if x < 3600:
        return w["unit.min"].format(n=f"{x / 60:.0f}")
    if x < 2 * 86400:
        return w["unit.h"].format(n=f"{x / 3600:.1f}".removesuffix(".0"))
    return w["unit.d"].format(n=f"{x / 86400:.1f}".removesuffix(".0"))


def span(w: Words, value: float) -> str:
    """A length of time in its largest sensible unit: ``90`` → ``2 min``."""
    return esc(_span_text(w, value))


def clock(value: Any, *, exact: bool = False) -> str:
    """A Unix time in UTC: ``2026-12-02 04:00 UTC`` (the page says UTC: the reader's
    time zone is unknown to the server); ``exact`` adds the seconds."""
    x = _number(value)
    if x is None:
        return ""
    t = dt.datetime.fromtimestamp(x, dt.UTC)
    return esc(t.strftime("%Y-%m-%d %H:%M:%S UTC" if exact else "%Y-%m-%d %H:%M UTC"))


def moment(w: Words, value: Any, now: float) -> str:
    """A time with how long ago (or ahead) it is from ``now``, the snapshot's time.

    ``<time datetime=...>`` carries the exact instant for machines and the tooltip.
    """
    x = _number(value)
    if x is None:
        return no_data(w)
    relative = w["ago" if x <= now else "in"].format(t=_span_text(w, now - x))
    iso = dt.datetime.fromtimestamp(x, dt.UTC).isoformat()
    return (f'<time datetime="{esc(iso)}" title="{clock(x)}">{esc(relative)}</time>')
