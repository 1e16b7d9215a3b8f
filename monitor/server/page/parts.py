"""Small pieces the status page is built of: state badges, tables, met/missed marks.

Every function here returns HTML in which each value from the snapshot is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

from monitor.server.page.fmt import Words, esc, no_data

# A glyph beside every state word: the state can be read without telling colours apart.
ICONS: Final[Mapping[str, str]] = {
    "up": "✓", "degraded": "◐", "down": "✕", "maintenance": "⚙", "closed": "☾",
    "unknown": "?", "pending": "…",
    "ok": "✓", "ticket": "◐", "page": "✕", "exhausted": "✕", "no_data": "?",
    "met": "✓", "missed": "✕", "warning": "!", "info": "i",
}
# The colour family of each state (the CSS has one rule per family).
TONES: Final[Mapping[str, str]] = {
    "up": "good", "ok": "good", "met": "good",
    "degraded": "warn", "ticket": "warn", "warning": "warn",
    "down": "bad", "page": "bad", "exhausted": "bad", "missed": "bad",
    "maintenance": "off", "closed": "off",
}


def badge(w: Words, state: Any, family: str = "state") -> str:
    """A state as glyph and word (``✕ down``); a state the page does not know is shown
    as given, in the neutral colour."""
    text = str(state) if state is not None else "unknown"
    key = f"{family}.{text}"
    word = w.get(key, text)
    tone = TONES.get(text, "none")
    icon = ICONS.get(text, "?")
    return (f'<span class="badge t-{tone}" data-state="{esc(text)}">'
            f'<span aria-hidden="true">{icon}</span> {esc(word)}</span>')


def mark(w: Words, value: Any, target: Any) -> str:
    """``✓ met`` or ``✕ missed`` for a ratio against its objective; nothing if either is
    unknown."""
    if not _is_number(value) or not _is_number(target):
        return ""
    met = value >= target
    key = "met" if met else "missed"
    return (f' <span class="badge t-{TONES[key]}"><span aria-hidden="true">{ICONS[key]}'
            f'</span> {esc(w[key])}</span>')


def flag(w: Words, met: Any) -> str:
    """A flow objective's ``met`` (true, false, or null for unknown)."""
    if met is None:
        return no_data(w)
    key = "met" if met else "missed"
    return (f'<span class="badge t-{TONES[key]}"><span aria-hidden="true">{ICONS[key]}'
            f'</span> {esc(w[key])}</span>')


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def text_or_dash(value: Any) -> str:
    """A free text from the snapshot (a reason, a field name), or an em dash."""
    return "—" if value is None or value == "" else esc(value)


def coded(w: Words, family: str, value: Any) -> str:
    """A code of ``family`` (a probe reason, a consistency mode) in the reader's
    language, the code in the tooltip (what the metrics and alerts say); a code the
    table lacks is shown as it is."""
    if value is None or value == "":
        return "—"
    code = str(value)
    word = w.get(f"{family}.{code}", code)
    return esc(code) if word == code else f'<span title="{esc(code)}">{esc(word)}</span>'


def reason(w: Words, value: Any) -> str:
    """A probe's reason in the reader's language (see :func:`coded`)."""
    return coded(w, "reason", value)


_DAY = re.compile(r"\b(mon|tue|wed|thu|fri|sat|sun)\b")


def service_hours(w: Words, text: str) -> str:
    """``mon-sat 09:00-17:00 Asia/Shanghai`` with the day names in the reader's
    language (the times and the zone are the same in every language)."""
    return esc(_DAY.sub(lambda m: w.get(f"day.{m.group(1)}", m.group(1)), text))


def target_link(name: Any) -> str:
    """A target's name that opens its detail: the page's script shows it in a dialog;
    without a script the link leads to the JSON itself."""
    n = esc(name)
    href = esc("/api/v1/targets/" + quote(str(name), safe=""))
    return f'<a class="target" href="{href}" data-target="{n}">{n}</a>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str,
          cls: str = "") -> str:
    """A table of already-escaped cells, scrolling sideways on narrow screens, or the
    ``empty`` sentence when there is no row."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{empty}</p>'
    head = "".join(f'<th scope="col">{h}</th>' for h in headers)
    return (f'<div class="scroll"><table class="{esc(cls)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def section(key: str, w: Words, body: str) -> str:
    """A titled part of the page, with an anchor named ``key``."""
    return (f'<section id="{esc(key)}" aria-labelledby="h-{esc(key)}">'
            f'<h2 id="h-{esc(key)}">{esc(w[key])}</h2>{body}</section>')
