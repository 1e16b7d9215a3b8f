"""A status document as ``/api/v1/status`` answers it (the contract in
``monitor/server/status.py``), for the status page's pure tests.

Four channels in four different states; the branch keeps opening hours, so part of its
bar is excluded; the mini-program has no history yet, so its figures are null.
"""

from __future__ import annotations

import copy
from typing import Any

NOW = 1764648000.0  # 2025-12-02 04:00:00 UTC
HOUR = 3600.0
DAY = 86400.0


def _hourly(states: list[str]) -> list[dict[str, Any]]:
    start = NOW - len(states) * HOUR
    cells = []
    for i, state in enumerate(states):
        total = {"none": 0, "excluded": 0}.get(state, 120)
        good = {"up": 120, "partial": 118, "down": 0}.get(state, 0)
        cells.append({"start": start + i * HOUR, "good": good, "total": total,
                      "excluded": 120 if state == "excluded" else 0, "state": state})
    return cells


def _daily(states: list[str]) -> list[dict[str, Any]]:
    start = NOW - len(states) * DAY
    return [{"start": start + i * DAY, "good": 2870 if s == "partial" else 2880,
             "total": 0 if s in ("none", "excluded") else 2880,
             "excluded": 2880 if s == "excluded" else 0, "state": s}
            for i, s in enumerate(states)]


def _availability(sli: float | None, budget: float | None, status: str,
                  burns: dict[str, float | None]) -> dict[str, Any]:
    return {"objective": 0.999, "sli": sli, "budget_remaining": budget,
            "burn_rates": burns, "status": status}


def status_document() -> dict[str, Any]:
    """A fresh copy (tests may change it)."""
    return copy.deepcopy(_DOCUMENT)


_DOCUMENT: dict[str, Any] = {
    "generated_at": NOW,
    "version": "0.1.0",
    "state": "down",
    "objectives": {"availability": 0.999, "consistency": 0.99, "window": "30d"},
    "channels": [
        {"name": "app", "state": "down",
         "targets": {"total": 3, "up": 2, "degraded": 0, "down": 1, "pending": 0},
         "service_hours": None,
         "availability": _availability(0.99912, 0.12, "page",
                                       {"5m": 20.0, "1h": 14.9, "6h": 1.1, "3d": 0.4}),
         "uptime": {"hourly": _hourly(["up"] * 46 + ["partial", "down"]),
                    "daily": _daily(["up"] * 88 + ["partial", "partial"])}},
        {"name": "website", "state": "up",
         "targets": {"total": 1, "up": 1, "degraded": 0, "down": 0, "pending": 0},
         "service_hours": None,
         "availability": _availability(0.9995, 0.5, "ok",
                                       {"5m": 0.0, "1h": 0.0, "6h": 0.2, "3d": 0.5}),
         "uptime": {"hourly": _hourly(["none"] * 40 + ["up"] * 8),
                    "daily": _daily(["none"] * 89 + ["up"])}},
        {"name": "miniprogram", "state": "degraded",
         "targets": {"total": 1, "up": 0, "degraded": 1, "down": 0, "pending": 0},
         "service_hours": None,
         "availability": _availability(None, None, "no_data",
                                       {"5m": None, "1h": None, "6h": None, "3d": None}),
         "uptime": {"hourly": _hourly(["none"] * 48), "daily": _daily(["none"] * 90)}},
        {"name": "branch", "state": "closed",
         "targets": {"total": 1, "up": 1, "degraded": 0, "down": 0, "pending": 0},
         "service_hours": "mon-sat 09:00-17:00 Asia/Shanghai",
         "availability": _availability(1.0, 1.0, "ok",
                                       {"5m": 0.0, "1h": 0.0, "6h": 0.0, "3d": 0.0}),
         "uptime": {"hourly": _hourly((["excluded"] * 16 + ["up"] * 8) * 2),
                    "daily": _daily((["up"] * 6 + ["excluded"]) * 12 + ["up"] * 6)}},
    ],
    "targets": [
        {"name": "app-api", "channel": "app", "kind": "http", "state": "down",
         "reason": "status_code", "since": NOW - 1000, "last_run": NOW - 10,
         "duration_seconds": 0.123},
        {"name": "app-login", "channel": "app", "kind": "tcp", "state": "up",
         "reason": None, "since": NOW - 7200, "last_run": NOW - 5,
         "duration_seconds": 0.004},
        {"name": "app-transfer", "channel": "app", "kind": "journey", "state": "up",
         "reason": None, "since": NOW - 7200, "last_run": NOW - 20,
         "duration_seconds": 1.8},
        {"name": "web-home", "channel": "website", "kind": "http", "state": "up",
         "reason": None, "since": NOW - 600, "last_run": NOW - 3,
         "duration_seconds": 0.05},
        {"name": "mini-api", "channel": "miniprogram", "kind": "http", "state": "degraded",
         "reason": "slow", "since": NOW - 300, "last_run": NOW - 2,
         "duration_seconds": 2.4},
        {"name": "core-gateway", "channel": "branch", "kind": "tcp", "state": "closed",
         "reason": None, "since": None, "last_run": NOW - 30,
         "duration_seconds": None},
    ],
    "journeys": [
        {"name": "app-transfer", "channel": "app", "state": "up",
         "last_duration_seconds": 1.8,
         "objectives": [
             {"name": "p95", "percentile": 95, "objective_seconds": 3.0,
              "value_seconds": 2.1, "met": True},
             {"name": "p99", "percentile": 99, "objective_seconds": 4.0,
              "value_seconds": None, "met": None}]},
    ],
    "consistency": {
        "objective": 0.99, "ratio": 0.987,
        "datasets": [
            {"name": "customers", "reference": "branch", "ratio": 0.987,
             "channels": [
                 {"channel": "app", "ratio": 0.981, "mode": "full", "judged": 1000,
                  "inconsistent": 19, "missing": 0, "extra": 0, "pending": 3,
                  "worst_field": "phone", "last_run": NOW - 600, "error": None},
                 {"channel": "website", "ratio": 0.995, "mode": "checksum", "judged": 1000,
                  "inconsistent": 5, "missing": 0, "extra": 0, "pending": 0,
                  "worst_field": "risk_level", "last_run": NOW - 600, "error": None},
                 {"channel": "miniprogram", "ratio": None, "mode": None, "judged": None,
                  "inconsistent": None, "missing": None, "extra": None, "pending": None,
                  "worst_field": None, "last_run": NOW - 60,
                  "error": "source: connection refused"}]},
        ],
    },
    "alerts": [
        {"alertname": "TargetDown", "severity": "page", "channel": "app",
         "target": "app-api", "summary": "app-api is down (status_code)", "since": NOW - 900},
    ],
    "maintenance": [
        {"name": "core upgrade", "channels": ["branch"], "starts_at": NOW + 52000,
         "ends_at": NOW + 62000, "active": False},
    ],
    "incidents": [
        {"channel": "app", "target": "app-api", "started_at": NOW - 1000, "ended_at": None,
         "reason": "status_code"},
        {"channel": "website", "target": "web-home", "started_at": NOW - 8000,
         "ended_at": NOW - 7400, "reason": "timeout"},
    ],
    "store": {"ok": True, "error": None},
}
