"""Formatting the rules' label sets and annotations: short, one line, bounded.

Annotations end up in Slack sections, Alertmanager and webhooks; every value is cut to
:data:`ANNOTATION_MAX_CHARS` on a word boundary here, so no provider receives a wall of
text from a verbose probe error.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from alerts.model import Labels, labelset

ANNOTATION_MAX_CHARS: Final = 300
NAMES_SHOWN: Final = 10  # names listed in an annotation before "and N more"
# Label names the rules set themselves: a channel or target label of the same name
# could otherwise move an alert to another channel's route or inhibition.
RESERVED_LABELS: Final = frozenset(
    {"alertname", "channel", "target", "slo", "reference", "receiver"})


def cut(text: str, limit: int = ANNOTATION_MAX_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters, shortened on a word boundary
    with a trailing ``…`` (mid-word only for a single word longer than the limit)."""
    if len(text) <= limit and text.isprintable() and "  " not in text \
            and text[:1] != " " and text[-1:] != " ":
        return text  # already one clean line: the common case, kept cheap
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    head = line[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:") + "…"


def alert_labels(base: Labels, **own: str) -> Labels:
    """``base`` (channel/target labels) without the reserved names, overlaid by ``own``."""
    merged = {k: v for k, v in base if k not in RESERVED_LABELS}
    merged.update(own)
    if "" in merged.values():
        return labelset(merged)
    return tuple(sorted(merged.items()))


def annotation_set(**items: str | None) -> Labels:
    """The non-empty ``items`` as annotation pairs, each cut to the limit."""
    return tuple(sorted([(k, cut(v)) for k, v in items.items() if v]))


def percent(ratio: float, decimals: int = 2) -> str:
    """``0.99123`` → ``99.12%``, rounded *down*: a ratio just below an objective must
    never print as the objective itself (99.8999% is not "99.90%")."""
    scale = 10.0 ** decimals
    value = math.floor(ratio * 100.0 * scale + 1e-9) / scale
    return f"{value:.{decimals}f}%"


def objective_text(ratio: float) -> str:
    """An objective as people write it: ``0.999`` → ``99.9%``, ``0.99`` → ``99%``."""
    return f"{round(ratio * 100.0, 6):g}%"


def budget_text(ratio: float) -> str:
    """Error budget left: ``0.37`` → ``37.0%``, ``-0.125`` → ``-12.5%``."""
    return f"{ratio * 100.0:.1f}%"


def duration_text(seconds: float) -> str:
    """``13d 4h``, ``5h 12m``, ``7m``, ``42s``: two units at most, rounded down."""
    s = max(0, int(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def iso_utc(ts: float) -> str:
    """``ts`` as ISO 8601 UTC to the second: ``2026-01-31T12:00:00Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def names_text(names: list[str], limit: int = NAMES_SHOWN,
               budget: int = ANNOTATION_MAX_CHARS - 20, total: int | None = None) -> str:
    """The first ``limit`` names (fewer if they would pass ``budget`` characters), then
    ``, and N more``: the count survives however long the names are.  ``total``: how
    many names there are when ``names`` holds only the first of them."""
    shown: list[str] = []
    used = 0
    for name in names[:limit]:
        if shown and used + 2 + len(name) > budget:
            break
        shown.append(name)
        used += len(name) + (2 if len(shown) > 1 else 0)
    rest = (len(names) if total is None else total) - len(shown)
    text = ", ".join(shown)
    return f"{text}, and {rest} more" if rest > 0 else text
