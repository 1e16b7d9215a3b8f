"""The burn-rate window table is data and checks itself."""

from __future__ import annotations

import pytest

from monitor.slo.windows import DEFAULT_ALERT_WINDOWS, GOOGLE_30D, parse_alert_windows


def test_default_table_is_the_sre_workbook_one() -> None:
    rows = [(r.severity, r.long, r.short, r.burn_rate) for r in DEFAULT_ALERT_WINDOWS.rows]
    assert rows == [
        ("page", "1h", "5m", 14.4),
        ("page", "6h", "30m", 6.0),
        ("ticket", "1d", "2h", 3.0),
        ("ticket", "3d", "6h", 1.0),
    ]
    assert DEFAULT_ALERT_WINDOWS.period_seconds == 30 * 86400
    assert DEFAULT_ALERT_WINDOWS.labels == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def test_a_factor_that_disagrees_with_its_budget_share_is_rejected() -> None:
    doc = dict(GOOGLE_30D)
    doc["page"] = [{"long": "1h", "short": "5m", "burn_rate": 14.0, "budget_percent": 2}]
    with pytest.raises(ValueError, match=r"does not match 2% of the budget in 1h \(14.4\)"):
        parse_alert_windows(doc)


def test_short_must_be_shorter_and_table_non_empty() -> None:
    with pytest.raises(ValueError, match="short must be shorter"):
        parse_alert_windows(
            {"period": "7d", "page": [{"long": "5m", "short": "1h", "burn_rate": 2}]}
        )
    with pytest.raises(ValueError, match="at least one row"):
        parse_alert_windows({"period": "7d"})
