"""The status page as one HTML document, rendered from the status snapshot dict.

:func:`render_page` is pure: the same dict and language give the same bytes (the
snapshot's ``generated_at`` is the page's "now").  Everything is on the page as the
server sends it, so it reads the same without a script; ``/assets/status.js`` only
refreshes it in place and opens a target's detail in a dialog.  Nothing is loaded from
outside the monitor (no CDN, no web font), so the page works offline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from monitor.server.page import sections
from monitor.server.page.bars import legend, uptime_bar
from monitor.server.page.fmt import (
    Words,
    clock,
    count,
    esc,
    factor,
    moment,
    objective,
    percent,
    seconds,
)
from monitor.server.page.i18n import HTML_LANG, LANGUAGE_NAMES, LANGUAGES, words
from monitor.server.page.parts import (
    badge,
    mark,
    reason,
    service_hours,
    table,
    target_link,
)

# Seconds between the page's own refreshes (the issue asks for 15-30 s).
REFRESH_SECONDS: Final = 20
ASSET_CSS: Final = "/assets/status.css"
ASSET_JS: Final = "/assets/status.js"
TARGET_COUNTS: Final = ("up", "degraded", "down", "pending")
BURN_WINDOWS: Final = ("5m", "1h", "6h", "3d")


def _burn_rates(w: Words, rates: Any) -> str:
    rates = rates if isinstance(rates, dict) else {}
    # The contract's windows first, in order; any others the snapshot adds after them.
    names = [*BURN_WINDOWS, *(k for k in rates if k not in BURN_WINDOWS)]
    return " · ".join(f'<span class="burn"><small>{esc(n)}</small> {factor(w, rates.get(n))}'
                      "</span>" for n in names)


def _target_counts(w: Words, counts: Any) -> str:
    counts = counts if isinstance(counts, dict) else {}
    shown = [f"{count(w, counts.get(k))} {esc(w[f'state.{k}'])}" for k in TARGET_COUNTS
             if counts.get(k)]
    total = count(w, counts.get("total"))
    return f"{total}" + (f" ({', '.join(shown)})" if shown else "")


def _fact(label: str, value: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<div{attr}><dt>{label}</dt><dd>{value}</dd></div>"


def _target_rows(w: Words, targets: list[dict[str, Any]], now: float) -> list[list[str]]:
    # The kind goes under the name: a channel card is narrow on a phone or a wall grid.
    return [[f'{target_link(t.get("name"))}<br><small>{esc(t.get("kind", ""))}</small>',
             badge(w, t.get("state")), reason(w, t.get("reason")),
             moment(w, t.get("since"), now), seconds(w, t.get("duration_seconds"))]
            for t in targets]


def channel_card(w: Words, ch: dict[str, Any], targets: list[dict[str, Any]],
                 now: float) -> str:
    """One channel: state, SLO figures, both uptime bars and its targets."""
    name = str(ch.get("name", ""))
    avail = ch.get("availability")
    avail = avail if isinstance(avail, dict) else {}
    uptime = ch.get("uptime")
    uptime = uptime if isinstance(uptime, dict) else {}
    goal = avail.get("objective")
    hours = ch.get("service_hours")
    facts = "".join([
        _fact(esc(w["availability"]),
              f'<strong>{percent(w, avail.get("sli"))}</strong>{mark(w, avail.get("sli"), goal)}'
              f' <small>{esc(w["objective"])} {objective(goal)}</small>'),
        _fact(esc(w["budget"]), percent(w, avail.get("budget_remaining"), 1)),
        _fact(esc(w["burn"]), _burn_rates(w, avail.get("burn_rates")), "wide"),
        _fact(esc(w["slo_status"]), badge(w, avail.get("status") or "no_data", "slo")),
        _fact(esc(w["targets"]), _target_counts(w, ch.get("targets"))),
        _fact(esc(w["service_hours"]),
              service_hours(w, hours) if hours else esc(w["always_open"])),
    ])
    heads = [esc(w[k]) for k in ("target", "state", "reason", "since", "latency")]
    return (
        f'<article class="channel" id="channel-{esc(name)}" data-channel="{esc(name)}" '
        f'data-state="{esc(ch.get("state", "unknown"))}">'
        f'<header><h3>{esc(name)}</h3>{badge(w, ch.get("state"))}</header>'
        f'<dl class="facts">{facts}</dl>'
        + uptime_bar(w, uptime.get("hourly"), "uptime_48h", daily=False)
        + uptime_bar(w, uptime.get("daily"), "uptime_90d", daily=True)
        + table(heads, _target_rows(w, targets, now), empty=esc(w["no_targets"]),
                cls="targets")
        + "</article>")


def channels(w: Words, status: dict[str, Any]) -> str:
    now = float(status.get("generated_at") or 0.0)
    all_targets = [t for t in status.get("targets") or [] if isinstance(t, dict)]
    cards = "".join(
        channel_card(w, ch, [t for t in all_targets if t.get("channel") == ch.get("name")], now)
        for ch in status.get("channels") or [] if isinstance(ch, dict))
    return (f'<section id="channels" aria-labelledby="h-channels">'
            f'<h2 id="h-channels">{esc(w["channels"])}</h2>{legend(w)}'
            f'<div class="cards">{cards}</div></section>')


def _switch(w: Words, lang: str) -> str:
    links = "".join(
        f'<a href="?lang={code}" hreflang="{HTML_LANG[code]}" lang="{HTML_LANG[code]}"'
        + (' aria-current="true"' if code == lang else "")
        + f">{esc(LANGUAGE_NAMES[code])}</a>" for code in LANGUAGES)
    return f'<nav class="lang" aria-label="{esc(w["language"])}">{links}</nav>'


def _header(w: Words, status: dict[str, Any], lang: str) -> str:
    now = status.get("generated_at")
    goals = status.get("objectives")
    goals = goals if isinstance(goals, dict) else {}
    consistency = goals.get("consistency")
    return (
        f'<header class="top"><div><h1>{esc(w["heading"])}</h1>'
        f'<p class="meta">{esc(w["overall"])}: <span id="overall">'
        f'{badge(w, status.get("state"))}</span> · {esc(w["availability"])} '
        f'{esc(w["objective"])} {objective(goals.get("availability"))} · '
        # Without a consistency check there is no objective to state (not a blank one).
        + (f'{esc(w["consistency"])} {esc(w["objective"])} {objective(consistency)} · '
           if consistency is not None else "")
        + f'{esc(w["window"])} {esc(goals.get("window", ""))}</p>'
        f'<p class="meta">{esc(w["generated"])} <span id="generated" '
        f'data-generated-at="{esc(now)}">{clock(now, exact=True)}</span> · '
        f'{esc(w["version"])} {esc(status.get("version", ""))}'
        f'<span id="refresh-note" class="error" hidden> · {esc(w["refresh_failed"])}</span>'
        f"</p>{_store_note(w, status.get('store'))}"
        f"</div>{_switch(w, lang)}</header>")


def _store_note(w: Words, store: Any) -> str:
    """Why history-based figures read "no data", when the store could not be read."""
    if not isinstance(store, dict) or store.get("ok", True):
        return ""
    return (f'<p class="meta error" role="status">{esc(w["store_error"])}: '
            f'{esc(store.get("error") or "")}</p>')


def _footer() -> str:
    # What the old landing page linked to, and the API this page is drawn from.
    links = (("/api/v1/status", "/api/v1/status"), ("/api/v1/openapi.json", "OpenAPI"),
             ("/metrics", "/metrics"), ("/healthz", "/healthz"), ("/readyz", "/readyz"))
    return ('<footer class="meta">'
            + " · ".join(f'<a href="{href}">{esc(text)}</a>' for href, text in links)
            + "</footer>")


def _words_json(w: Mapping[str, str]) -> str:
    # Inside <script>, "</script>" would end the element: no "<" is left unescaped.
    return json.dumps(dict(w), ensure_ascii=False).replace("<", "\\u003c")


def _dialog(w: Words) -> str:
    return (f'<dialog id="detail" aria-labelledby="detail-title"><form method="dialog">'
            f'<button class="close" value="close">{esc(w["close"])}</button></form>'
            f'<h2 id="detail-title">{esc(w["detail_title"])}</h2>'
            f'<div id="detail-body" aria-live="polite"></div></dialog>')


def render_page(status: dict[str, Any], lang: str, *,
                refresh_seconds: int = REFRESH_SECONDS) -> str:
    """The whole status page for ``status`` (the ``/api/v1/status`` dict) in ``lang``."""
    w = words(lang)
    main = "".join([
        _header(w, status, lang), channels(w, status), sections.journeys(w, status),
        sections.consistency(w, status), sections.alerts(w, status),
        sections.maintenance(w, status), sections.incidents(w, status), _footer()])
    return (
        f'<!doctype html><html lang="{HTML_LANG.get(lang, "en")}"><head>'
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(w['title'])}</title>"
        # No favicon request (it would 404 and log a console error).
        '<link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="{ASSET_CSS}">'
        f'<script src="{ASSET_JS}" defer></script></head>'
        f'<body data-lang="{esc(lang)}" data-refresh-seconds="{int(refresh_seconds)}">'
        f'<noscript><p class="note">{esc(w["noscript"])}</p></noscript>'
        f'<main id="main">{main}</main>{_dialog(w)}'
        f'<script type="application/json" id="words">{_words_json(w)}</script>'
        "</body></html>")
