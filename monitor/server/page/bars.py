"""Uptime bars: one cell per hour (48) or per day (90), coloured *and* described.

Hours or days that maintenance or service hours excluded from the SLI get their own
state, drawn grey and striped: they were not a failure, so they are never red.  Every
cell carries its numbers in a tooltip, and the bar an accessible summary, so colour is
never the only way to read it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from monitor.server.page.fmt import Words, esc

BAR_STATES: Final = ("up", "partial", "down", "excluded", "none")


def bin_state(cell: Any) -> str:
    """The cell's state; anything the page does not know is drawn as "no data"."""
    state = cell.get("state") if isinstance(cell, dict) else None
    return state if state in BAR_STATES else "none"


def _start_text(start: Any, daily: bool) -> str:
    if isinstance(start, bool) or not isinstance(start, int | float):
        return ""
    t = dt.datetime.fromtimestamp(start, dt.UTC)
    return t.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:00 UTC")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def cell_title(w: Words, cell: Any, daily: bool) -> str:
    """``2026-12-01 04:00 UTC · some failures · 118 of 120 good · 2 excluded``."""
    state = bin_state(cell)
    parts = [_start_text(cell.get("start"), daily) if isinstance(cell, dict) else "",
             w[f"bar.{state}"]]
    if isinstance(cell, dict):
        total, excluded = _int(cell.get("total")), _int(cell.get("excluded"))
        if total:
            parts.append(w["good_of"].format(good=_int(cell.get("good")), total=total))
        if excluded:
            parts.append(w["excluded_n"].format(n=excluded))
    return " · ".join(p for p in parts if p)


def uptime_bar(w: Words, cells: Sequence[Any] | None, label_key: str, daily: bool) -> str:
    """One labelled bar: its heading, the cells oldest first, an accessible summary."""
    cells = list(cells or [])
    tally = Counter(bin_state(c) for c in cells)
    summary = ", ".join(f"{n} {w[f'bar.{s}']}" for s in BAR_STATES if (n := tally[s]))
    label = f"{w[label_key]}: {summary or w['no_data']}"
    if not cells:
        return (f'<div class="uptime"><div class="uptime-label">{esc(w[label_key])}</div>'
                f'<p class="nodata">{esc(w["no_data"])}</p></div>')
    spans = "".join(
        f'<span class="cell c-{bin_state(c)}" title="{esc(cell_title(w, c, daily))}"></span>'
        for c in cells)
    return (f'<div class="uptime"><div class="uptime-label">{esc(w[label_key])}</div>'
            f'<div class="bar" role="img" aria-label="{esc(label)}" '
            f'style="--cells:{len(cells)}">{spans}</div></div>')


def legend(w: Words) -> str:
    """What each cell colour and pattern means, in words."""
    items = "".join(f'<li><span class="cell c-{s}" aria-hidden="true"></span>'
                    f'{esc(w[f"bar.{s}"])}</li>' for s in BAR_STATES)
    return (f'<div class="legend"><span class="legend-title">{esc(w["legend"])}:</span>'
            f'<ul>{items}</ul></div>')
