"""Text for Slack messages: escaping, cutting between words, times, durations, links.

Pure helpers of :mod:`alerts.providers.slack_blocks`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from urllib.parse import quote, urlsplit, urlunsplit


def escape(text: str) -> str:
    """``text`` with Slack's three control characters escaped, as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at the last whitespace that
    leaves room for "…" — never inside a word (a single word too long becomes "…")."""
    if len(text) <= limit:
        return text
    cut = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit))
    if cut <= 0:
        return "…"
    return text[:cut].rstrip() + "…"


def format_duration(seconds: float) -> str:
    """``45s``, ``12m``, ``3h 5m``, ``2d 4h`` (the two largest units, rounded down)."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h {m}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d {h}h" if h else f"{d}d"


def format_time(ts: float) -> str:
    """``2024-04-01 09:12 UTC``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def short_time(ts: float, now: float) -> str:
    """``19:21 UTC``, or ``04-01 19:21 UTC`` when not on the day of ``now``."""
    same_day = (dt.datetime.fromtimestamp(ts, dt.UTC).date()
                == dt.datetime.fromtimestamp(now, dt.UTC).date())
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime(
        "%H:%M UTC" if same_day else "%m-%d %H:%M UTC")


def count(n: int, noun: str) -> str:
    """``1 alert``, ``1,000 alerts``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def public_url(url: str) -> str:
    """``url`` without user info: a link must never carry a credential."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_link(template: str, labels: Mapping[str, str]) -> str:
    """``template`` with each ``{label}`` replaced by that label's URL-quoted value (empty
    when the label is absent).  Plain substitution, not ``str.format``: a template can
    reach nothing but label values."""
    return public_url(_PLACEHOLDER.sub(
        lambda m: quote(labels.get(m.group(1), ""), safe=""), template))


def link(url: str, label: str) -> str:
    """A mrkdwn link ``<url|label>``, both escaped (a ``|`` in the URL quoted)."""
    return f"<{escape(url).replace('|', '%7C')}|{escape(label)}>"
