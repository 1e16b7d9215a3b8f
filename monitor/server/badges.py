"""SVG badges, as Gatus and shields.io draw them: a grey label and a coloured value. Pure.

Text is measured with Verdana 11px advance widths (the font badges name first), so a
label or value of any length fits its half; characters outside the table (CJK) count as
a full em.  Every text is XML-escaped.
"""

from __future__ import annotations

import math
from typing import Final
from xml.sax.saxutils import escape

from monitor.server.status_model import ChannelState

GREEN: Final = "#40cc51"
YELLOW: Final = "#dfb317"
RED: Final = "#e05d44"
BLUE: Final = "#007ec6"
GREY: Final = "#9f9f9f"
LABEL_GREY: Final = "#555"
STATE_COLOURS: Final = {"up": GREEN, "degraded": YELLOW, "down": RED, "maintenance": BLUE,
                        "closed": GREY, "unknown": GREY}
UPTIME_WINDOWS: Final = ("1h", "24h", "7d", "30d")

_PAD: Final = 6  # pixels each side of a text
_EM: Final = 11.0
# Verdana 11px advances (pixels), grouped by width; anything else is 7.0 (digits, most
# capitals) unless it is outside ASCII, then a full em.
_WIDTHS: Final = {
    **dict.fromkeys(" ", 3.9), **dict.fromkeys("ijl|'!.,:;", 3.1),
    **dict.fromkeys("frt()[]{}/\\-", 4.3), **dict.fromkeys("Iast", 5.5),
    **dict.fromkeys("bcdeghknopquvxyz", 6.6), **dict.fromkeys("J", 5.0),
    **dict.fromkeys("ABCEFKLPRSTVXYZ", 7.5), **dict.fromkeys("DGHNOQU", 8.4),
    **dict.fromkeys("mw", 10.6), **dict.fromkeys("MW", 11.0), **dict.fromkeys("%", 12.0),
    **dict.fromkeys("0123456789", 7.0),
}


def text_width(text: str) -> float:
    """The width in pixels of ``text`` set in Verdana 11px."""
    return sum(_WIDTHS.get(ch, 7.0 if ch.isascii() else _EM) for ch in text)


def badge(label: str, value: str, colour: str) -> str:
    """A flat badge reading ``label | value``, the value on ``colour``."""
    lw = math.ceil(text_width(label)) + 2 * _PAD
    vw = math.ceil(text_width(value)) + 2 * _PAD
    width = lw + vw
    lab, val = escape(label), escape(value)
    title = escape(f"{label}: {value}", {'"': "&quot;"})
    texts = "".join(
        f'<text x="{x * 10}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)"'
        f' textLength="{(w - 2 * _PAD) * 10}">{t}</text>'
        f'<text x="{x * 10}" y="140" transform="scale(.1)" fill="#fff"'
        f' textLength="{(w - 2 * _PAD) * 10}">{t}</text>'
        for x, w, t in ((lw / 2, lw, lab), (lw + vw / 2, vw, val)))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img"'
        f' aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb"'
        ' stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="{LABEL_GREY}"/>'
        f'<rect x="{lw}" width="{vw}" height="20" fill="{colour}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,'
        f'sans-serif" text-rendering="geometricPrecision" font-size="110">{texts}</g></svg>')


def percent(ratio: float) -> str:
    """``0.99912`` → ``99.91%``: rounded *down*, so nothing short of 100% reads 100%."""
    hundredths = math.floor(ratio * 10000 + 1e-9)
    return f"{hundredths / 100:g}%"


def uptime_colour(ratio: float | None, objective: float) -> str:
    """Green at or above the objective; yellow within ten budgets of it; red below;
    grey when unknown."""
    if ratio is None:
        return GREY
    if ratio >= objective or math.isclose(ratio, objective):
        return GREEN
    return YELLOW if ratio >= 1.0 - 10.0 * (1.0 - objective) else RED


def uptime_badge(window: str, ratio: float | None, objective: float) -> str:
    """``uptime 24h | 99.91%`` coloured by ``objective``; ``no data`` when unknown."""
    value = "no data" if ratio is None else percent(ratio)
    return badge(f"uptime {window}", value, uptime_colour(ratio, objective))


def health_badge(state: ChannelState) -> str:
    """``health | up``: the overall state."""
    return badge("health", state, STATE_COLOURS[state])
