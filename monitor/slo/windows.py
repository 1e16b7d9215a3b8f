"""Multi-window, multi-burn-rate alert windows: data, not code.

The default table is the one in Google's *SRE Workbook*, chapter 5 ("Alerting on SLOs"),
table 5-8, for a 30-day SLO period — the same numbers sloth ships as
``internal/alert/windows/google-30d.yaml``:

=========  ===========  ============  ===========  ==========================
severity   long window  short window  burn factor  budget spent when it fires
=========  ===========  ============  ===========  ==========================
page       1h           5m            14.4         2% in 1h
page       6h           30m           6            5% in 6h
ticket     1d           2h            3            10% in 1d
ticket     3d           6h            1            10% in 3d
=========  ===========  ============  ===========  ==========================

An alert of a row fires when the burn rate over *both* its long and its short window is
strictly greater than the factor (the workbook's ``>``).  Another table (for example a
7-day period) is a mapping of the same shape passed to :func:`parse_alert_windows`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

Severity = Literal["page", "ticket"]

# The SRE Workbook table for a 30-day period, in the shape of sloth's window files.
GOOGLE_30D: Final[Mapping[str, Any]] = {
    "period": "30d",
    "page": [
        {"long": "1h", "short": "5m", "burn_rate": 14.4, "budget_percent": 2},
        {"long": "6h", "short": "30m", "burn_rate": 6.0, "budget_percent": 5},
    ],
    "ticket": [
        {"long": "1d", "short": "2h", "burn_rate": 3.0, "budget_percent": 10},
        {"long": "3d", "short": "6h", "burn_rate": 1.0, "budget_percent": 10},
    ],
}

# Windows reported by ``omniwatch slo`` and the collector, whatever the alert table says.
SLI_WINDOWS: Final = ("1h", "1d", "7d", "30d")
BURN_RATE_WINDOWS: Final = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")

_UNITS: Final = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def window_seconds(label: str) -> float:
    """Seconds in a window label such as ``5m``, ``6h``, ``3d`` or ``1w``."""
    if len(label) < 2 or label[-1] not in _UNITS or not label[:-1].isdigit():
        raise ValueError(f"{label!r} is not a window (use e.g. 5m, 6h, 3d)")
    return int(label[:-1]) * _UNITS[label[-1]]


@dataclass(frozen=True, slots=True)
class AlertWindow:
    """One row of the table: fire ``severity`` when both windows burn faster than the factor."""

    severity: Severity
    long: str
    short: str
    burn_rate: float

    @property
    def long_seconds(self) -> float:
        return window_seconds(self.long)

    @property
    def short_seconds(self) -> float:
        return window_seconds(self.short)


@dataclass(frozen=True, slots=True)
class AlertWindows:
    """A whole table for one SLO period, page rows first."""

    period: str
    rows: tuple[AlertWindow, ...]

    @property
    def period_seconds(self) -> float:
        return window_seconds(self.period)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every window label the table needs, shortest first, without duplicates."""
        seen = {w for r in self.rows for w in (r.long, r.short)}
        return tuple(sorted(seen, key=window_seconds))


def parse_alert_windows(doc: Mapping[str, Any]) -> AlertWindows:
    """Build a table from a sloth-style mapping; raise ``ValueError`` on a bad one.

    When a row gives ``budget_percent`` too, its factor must equal
    ``budget_percent / 100 * period / long`` — the workbook's derivation — so a typo in
    either number is caught rather than silently alerting at the wrong rate.
    """
    period = str(doc["period"])
    period_s = window_seconds(period)
    rows: list[AlertWindow] = []
    for severity in ("page", "ticket"):
        raw_rows: Sequence[Mapping[str, Any]] = doc.get(severity, ())
        for raw in raw_rows:
            row = AlertWindow(
                severity, str(raw["long"]), str(raw["short"]), float(raw["burn_rate"])
            )
            if row.short_seconds >= row.long_seconds:
                raise ValueError(f"{severity} row {row.long}/{row.short}: short must be shorter")
            if row.burn_rate <= 0:
                raise ValueError(f"{severity} row {row.long}: burn_rate must be positive")
            percent = raw.get("budget_percent")
            if percent is not None:
                derived = float(percent) / 100.0 * period_s / row.long_seconds
                if abs(derived - row.burn_rate) > 1e-9 * max(1.0, derived):
                    raise ValueError(
                        f"{severity} row {row.long}: burn_rate {row.burn_rate} does not match "
                        f"{percent}% of the budget in {row.long} ({derived:g})"
                    )
            rows.append(row)
    if not rows:
        raise ValueError("an alert window table needs at least one row")
    return AlertWindows(period, tuple(rows))


DEFAULT_ALERT_WINDOWS: Final = parse_alert_windows(GOOGLE_30D)
