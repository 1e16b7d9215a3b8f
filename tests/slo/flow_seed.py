"""Seeded flow-time data for the journeys report tests (November 2026, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.config.model import (
    Channel,
    Config,
    FlowObjective,
    HttpSpec,
    JourneysConfig,
    JourneySpec,
    JourneyStep,
    StoreConfig,
    Target,
)
from probes.result import ProbeResult, StepResult

MONTH = "2026-11"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp()
DAY = 86400


def utc(year: int, month: int, day: int, hour: int = 0) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


PLAN = FlowObjective("web-account-opening", 95, baseline_seconds=720.0, reduce_by=0.3,
                     by=utc(2027, 3, 1), since=utc(2026, 11, 2))
FIXED = FlowObjective("app-transfer", 50, max_seconds=4.0)

# (target, first day of a week, durations of that week's successful runs)
RUNS: tuple[tuple[str, float, tuple[float, ...]], ...] = (
    ("web-account-opening", utc(2026, 11, 3), (700.0,) * 18 + (760.0, 800.0)),
    ("web-account-opening", utc(2026, 11, 10), (600.0,) * 19 + (690.0,)),
    ("web-account-opening", utc(2026, 11, 17), (500.0,) * 20),
    ("app-transfer", utc(2026, 11, 3), (3.0,) * 10),
    ("app-transfer", utc(2026, 11, 10), (5.0,) * 6 + (3.0,) * 4),
)


def journey(name: str, channel: str) -> Target:
    step = JourneyStep("home", HttpSpec("http://127.0.0.1:9/"))
    return Target(name, channel, "journey", JourneySpec((step,)), interval_seconds=60.0,
                  timeout_seconds=20.0)


def config(db: str, objectives: tuple[FlowObjective, ...] = (PLAN, FIXED)) -> Config:
    plain = Target("app-api", "app", "http", HttpSpec("http://127.0.0.1:9/health"))
    return Config(
        channels=(Channel("app", (plain, journey("app-transfer", "app"))),
                  Channel("website", (journey("web-account-opening", "website"),))),
        store=StoreConfig(sqlite_path=db),
        journeys=JourneysConfig(objectives),
    )


def results() -> list[tuple[str, str, ProbeResult]]:
    """(channel, target, result) for every seeded run, an hour apart."""
    channel = {"web-account-opening": "website", "app-transfer": "app"}
    steps = (StepResult("home", True, "ok", 0.1),)
    out = []
    for target, day, durations in RUNS:
        for i, d in enumerate(durations):
            out.append((channel[target], target,
                        ProbeResult(True, "ok", d, started_at=day + i * 3600, steps=steps)))
        # A failure is counted for availability, never in flow time.
        out.append((channel[target], target,
                    ProbeResult(False, "status", 1.0, started_at=day + 3000, steps=steps)))
    return out
