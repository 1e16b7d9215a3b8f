"""Slack messages for a notification: a plain ``text`` fallback and Block Kit ``blocks``.

Pure: a :class:`~alerts.model.Notification` and :class:`RenderOptions` in, a
:class:`SlackMessage` out, times taken from the notification (``created_at`` is "now").
Three variants:

* :func:`message` — a top-level post (an episode's opening, a test, or any kind when
  there is no thread to reply to);
* :func:`thread_reply` — what changed (newly firing, resolved) or a reminder, as a reply
  in the episode's thread;
* :func:`resolved_original` — the opening message rewritten as resolved, for
  ``chat.update`` ("✅ RESOLVED after 12m", the same alerts).

Every message keeps within Slack's limits (:data:`MAX_BLOCKS` blocks, sections of at most
:data:`MAX_SECTION_CHARS`, a header of at most :data:`MAX_HEADER_CHARS`, a fallback text
of at most :data:`MAX_TEXT_CHARS`): a large group is summarised (counts by severity and
reason, the worst listed one per line, then "…and 940 more"), and text is only ever cut
at a word boundary.  Every value from labels and annotations is escaped (``& < >``), so an
annotation can neither mention ``<!channel>`` nor forge a link.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from alerts.config import Links
from alerts.model import AlertSnapshot, Notification
from alerts.providers import RenderOptions
from alerts.providers.slack_text import (
    count,
    escape,
    expand_link,
    format_duration,
    format_time,
    link,
    public_url,
    short_time,
    shorten,
)

MAX_BLOCKS: Final = 50
MAX_SECTION_CHARS: Final = 3000
MAX_HEADER_CHARS: Final = 150
MAX_TEXT_CHARS: Final = 3000
MAX_CONTEXT_ELEMENTS: Final = 10
# Up to this many alerts each get a section of their own; more are listed one per line.
DETAILED_ALERTS: Final = 5
# Lines listed individually before "…and N more": enough to see the shape of a storm,
# few enough to read.
MAX_LISTED: Final = 60
REPLY_LISTED: Final = 20
FALLBACK_LISTED: Final = 10
# One annotation value in a message; the rules already keep theirs under this.
MAX_VALUE_CHARS: Final = 300
MAX_LINE_CHARS: Final = 300

SEVERITY_RANK: Final[Mapping[str, int]] = {"page": 0, "ticket": 1, "warning": 2, "info": 3}
SEVERITY_EMOJI: Final[Mapping[str, str]] = {
    "page": "🟥", "ticket": "🟧", "warning": "🟨", "info": "🟦"}
OTHER_SEVERITY_EMOJI: Final = "⬜"
RESOLVED_EMOJI: Final = "✅"
# Labels that name what an alert is about, most specific first.
SUBJECT_LABELS: Final = ("target", "slo", "receiver", "channel", "component")


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """``text`` (the notification fallback) and ``blocks``, as chat.postMessage takes them."""

    text: str
    blocks: tuple[Mapping[str, Any], ...]

    def blocks_list(self) -> list[dict[str, Any]]:
        return [dict(b) for b in self.blocks]


def severity_rank(a: AlertSnapshot) -> int:
    return SEVERITY_RANK.get(_label(a, "severity"), len(SEVERITY_RANK))


def worst_first(alerts: Iterable[AlertSnapshot]) -> list[AlertSnapshot]:
    """Firing before resolved; then page > ticket > warning > info > others; then the
    oldest; then by labels, so the order is total."""
    return sorted(alerts, key=lambda a: (a.status != "firing", severity_rank(a),
                                         a.starts_at, a.labels))


def _label(a: AlertSnapshot, name: str) -> str:
    for k, v in a.labels:
        if k == name:
            return v
    return ""


def _subject(a: AlertSnapshot) -> str:
    for name in SUBJECT_LABELS:
        if value := _label(a, name):
            return value
    return _label(a, "alertname") or a.fingerprint


def common_labels(n: Notification) -> dict[str, str]:
    """The labels every alert of ``n`` shares, overlaid with the group's labels."""
    common: dict[str, str] | None = None
    for a in n.alerts:
        labels = dict(a.labels)
        common = labels if common is None else {
            k: v for k, v in common.items() if labels.get(k) == v}
    return {**(common or {}), **dict(n.group_labels)}


# --- one alert ------------------------------------------------------------------------


def _value(annotations: Mapping[str, str], name: str) -> str:
    return shorten(escape(annotations.get(name, "").strip()), MAX_VALUE_CHARS)


def _emoji(a: AlertSnapshot) -> str:
    if a.status == "resolved":
        return RESOLVED_EMOJI
    return SEVERITY_EMOJI.get(_label(a, "severity"), OTHER_SEVERITY_EMOJI)


def _title(a: AlertSnapshot, common: Mapping[str, str]) -> str:
    """``🟥 *page* · *core-gateway* · branch`` (+ the alertname when the group mixes them)."""
    parts = [f"{_emoji(a)} *{escape(_label(a, 'severity') or 'unknown')}*",
             f"*{escape(_subject(a))}*"]
    channel = _label(a, "channel")
    if channel and channel != _subject(a) and "channel" not in common:
        parts.append(escape(channel))
    if "alertname" not in common:
        parts.append(escape(_label(a, "alertname")))
    return " · ".join(parts)


def _when(a: AlertSnapshot, now: float) -> str:
    since = f"*Since:* {format_time(a.starts_at)}"
    if a.status == "resolved":
        ended = a.ends_at if a.ends_at is not None else now
        return f"{since} · *resolved after* {format_duration(ended - a.starts_at)}"
    return f"{since} ({format_duration(now - a.starts_at)})"


def _joined(pairs: Sequence[tuple[str, str]]) -> str:
    return " · ".join(f"*{name}:* {value}" for name, value in pairs if value)


def alert_section_text(a: AlertSnapshot, common: Mapping[str, str], now: float) -> str:
    """The mrkdwn of one alert's own section: what, why, since when, and its numbers."""
    ann = dict(a.annotations)
    v = {name: _value(ann, name) for name in ann}
    lines = [_title(a, common)]
    if v.get("summary"):
        lines.append(v["summary"])
    why = " — ".join(x for x in (v.get("reason", ""), v.get("detail", "")) if x)
    lines.append(_joined([("Reason", why), ("Error", v.get("error", ""))]))
    lines.append(_when(a, now))
    objective = f" (objective {v['objective']})" if v.get("objective") else ""
    sli = v["sli"] + objective if v.get("sli") else ""
    ratio = v["ratio"] + ("" if sli else objective) if v.get("ratio") else ""
    lines.append(_joined([("SLI", sli), ("Budget left", v.get("budget_left", "")),
                          ("Burn rate", v.get("burn_rate", ""))]))
    lines.append(_joined([("Consistency", ratio), ("Worst field", v.get("field", ""))]))
    expires = v.get("expires_at", "")
    if expires and v.get("expires_in"):
        expires += f" ({v['expires_in']})"
    lines.append(_joined([("Expires", expires)]))
    lines.append(_joined([("Down", v.get("down", "")), ("Reasons", v.get("reasons", ""))]))
    lines.append(_joined([("Targets", v.get("targets", ""))]))
    return shorten("\n".join(line for line in lines if line), MAX_SECTION_CHARS)


def alert_line(a: AlertSnapshot, common: Mapping[str, str], now: float) -> str:
    """One alert in one line, for long lists."""
    ann = dict(a.annotations)
    why = _value(ann, "reason") or _value(ann, "summary")
    if a.status == "resolved":
        ended = a.ends_at if a.ends_at is not None else now
        when = f"resolved after {format_duration(ended - a.starts_at)}"
    else:
        when = (f"since {short_time(a.starts_at, now)} "
                f"({format_duration(now - a.starts_at)})")
    body = " · ".join(x for x in (_title(a, common), why, when) if x)
    return shorten(body, MAX_LINE_CHARS)


# --- the whole message ----------------------------------------------------------------


def _heading(n: Notification, common: Mapping[str, str], how_many: str) -> str:
    """``TargetDown · branch · 3 alerts``: what the group is, and how big."""
    parts = [common.get("alertname", "alerts")]
    if "channel" in common:
        parts.append(common["channel"])
    parts.extend(f"{k}={v}" for k, v in n.group_labels if k not in ("alertname", "channel"))
    parts.append(how_many)
    return " · ".join(parts)


def _summary(n: Notification) -> str:
    """``*1,000 firing* (12 new) · *3 resolved* — 🟥 page 10 · 🟨 warning 990`` and the
    most common reasons."""
    firing, resolved = n.firing, n.resolved
    heads = []
    if firing:
        new = sum(a.new for a in firing)
        heads.append(f"*{len(firing):,} firing*" + (f" ({new:,} new)" if new else ""))
    if resolved:
        heads.append(f"*{len(resolved):,} resolved*")
    counted = firing or resolved
    by_severity = Counter(_label(a, "severity") or "unknown" for a in counted)
    severities = " · ".join(
        f"{SEVERITY_EMOJI.get(s, OTHER_SEVERITY_EMOJI)} {escape(s)} {c:,}"
        for s, c in sorted(by_severity.items(),
                           key=lambda i: (SEVERITY_RANK.get(i[0], 9), i[0])))
    lines = [" · ".join(heads) + " — " + severities]
    reasons = Counter(r for a in counted if (r := dict(a.annotations).get("reason")))
    if reasons:
        top = sorted(reasons.items(), key=lambda i: (-i[1], i[0]))
        text = " · ".join(f"{shorten(escape(r), 80)} x{c:,}" for r, c in top[:5])
        if len(top) > 5:
            text += f" · {len(top) - 5:,} other"
        lines.append(f"*Reasons:* {text}")
    return shorten("\n".join(lines), MAX_SECTION_CHARS)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _listing(alerts: Sequence[AlertSnapshot], common: Mapping[str, str], now: float, *,
             max_listed: int, budget: int) -> list[dict[str, Any]]:
    """Sections for ``alerts`` (already ordered): one each while there are few, else
    lines packed into sections, at most ``budget`` blocks, ending with "…and N more"."""
    if len(alerts) <= DETAILED_ALERTS and len(alerts) <= budget:
        return [_section(alert_section_text(a, common, now)) for a in alerts]
    sections: list[str] = []
    current: list[str] = []
    size = 0
    listed = 0
    for a in alerts[:max_listed]:
        line = alert_line(a, common, now)
        if current and size + 1 + len(line) > MAX_SECTION_CHARS:
            if len(sections) + 2 > budget:  # keep a block for the "more" line
                break
            sections.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + (1 if size else 0)
        listed += 1
    more = len(alerts) - listed
    if more:
        tail = f"…and {more:,} more"
        if size + 1 + len(tail) <= MAX_SECTION_CHARS:
            current.append(tail)
        else:
            sections.append("\n".join(current))
            current = [tail]
    if current:
        sections.append("\n".join(current))
    return [_section(s) for s in sections]


def _context(n: Notification, options: RenderOptions,
             common: Mapping[str, str]) -> list[dict[str, Any]]:
    links: Links = options.links
    elements = []
    for name, template in (("Runbook", links.runbook), ("Dashboard", links.dashboard)):
        if template:
            elements.append(link(expand_link(template, common), name))
    if options.external_url:
        elements.append(link(public_url(options.external_url), "omniwatch"))
    if not elements:
        return []
    return [{"type": "context", "elements": [
        {"type": "mrkdwn", "text": e} for e in elements[:MAX_CONTEXT_ELEMENTS]]}]


def _fallback(status: str, heading: str, alerts: Sequence[AlertSnapshot],
              common: Mapping[str, str], now: float) -> str:
    """The plain ``text``: the heading, then the worst alerts while they fit."""
    lines = [escape(f"{status}: {heading}")]
    size = len(lines[0])
    listed = 0
    for a in alerts[:FALLBACK_LISTED]:
        line = alert_line(a, common, now).replace("*", "")
        tail = len(f"\n…and {len(alerts):,} more")  # room for the tail, whatever follows
        if size + 1 + len(line) + tail > MAX_TEXT_CHARS:
            break
        lines.append(line)
        size += 1 + len(line)
        listed += 1
    if len(alerts) > listed and listed:
        lines.append(f"…and {len(alerts) - listed:,} more")
    return shorten("\n".join(lines), MAX_TEXT_CHARS)


def _episode_length(n: Notification) -> str:
    """How long the group was firing: its oldest start to its last end."""
    if not n.alerts:
        return format_duration(0)
    start = min(a.starts_at for a in n.alerts)
    end = max(a.ends_at if a.ends_at is not None else n.created_at for a in n.alerts)
    return format_duration(end - start)


def _status(n: Notification, kind: str) -> str:
    if kind == "resolved":
        return f"{RESOLVED_EMOJI} RESOLVED after {_episode_length(n)}"
    if kind == "test":
        return "🧪 TEST"
    if kind == "reminder":
        return "🔁 STILL FIRING"
    return "🔴 FIRING"


def _build(n: Notification, options: RenderOptions, *, kind: str, alerts: Sequence[AlertSnapshot],
           header: bool, max_listed: int) -> SlackMessage:
    common = common_labels(n)
    status = _status(n, kind)
    counted = n.resolved if kind == "resolved" else (n.firing or n.alerts)
    heading = _heading(n, common, count(len(counted), "alert"))
    if header:
        top = {"type": "header", "text": {
            "type": "plain_text", "text": shorten(f"{status}: {heading}", MAX_HEADER_CHARS),
            "emoji": True}}
    else:  # a thread reply: a bold line, not a second banner in the thread
        top = _section(shorten(f"*{escape(status)}* · {escape(heading)}", MAX_SECTION_CHARS))
    blocks: list[dict[str, Any]] = [top]
    if len(n.alerts) > 1:
        blocks.append(_section(_summary(n)))
    context = _context(n, options, common)
    budget = MAX_BLOCKS - len(blocks) - len(context)
    blocks += _listing(alerts, common, n.created_at, max_listed=max_listed, budget=budget)
    blocks += context
    return SlackMessage(text=_fallback(status, heading, alerts, common, n.created_at),
                        blocks=tuple(blocks))


def message(n: Notification, options: RenderOptions) -> SlackMessage:
    """The top-level post for ``n``: every alert it carries, worst first."""
    return _build(n, options, kind=n.kind, alerts=worst_first(n.alerts), header=True,
                  max_listed=MAX_LISTED)


def thread_reply(n: Notification, options: RenderOptions) -> SlackMessage:
    """The reply in the episode's thread: for an update, what changed — the newly
    firing, then the resolved (then every firing alert, when the notification does not
    say which are new); for a reminder, what still fires; for a resolution, what
    resolved."""
    alerts = worst_first(n.alerts)
    if n.kind == "update":
        new = [a for a in n.firing if a.new]
        alerts = worst_first(new) + worst_first(n.resolved)
        if not new:
            alerts += worst_first(n.firing)
    return _build(n, options, kind=n.kind, alerts=alerts, header=False,
                  max_listed=REPLY_LISTED)


def resolved_original(n: Notification, options: RenderOptions) -> SlackMessage:
    """The opening message rewritten for ``chat.update`` once the group resolved."""
    return _build(n, options, kind="resolved", alerts=worst_first(n.alerts), header=True,
                  max_listed=MAX_LISTED)
