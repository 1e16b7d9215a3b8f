"""The sections of the multi-step kinds: ``browser:`` (the shared Chromium) and
``journeys:`` (flow-time objectives, each naming a journey or browser target, with a
``max`` or a plan: a baseline reduced by a share by a date)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from monitor.config.build_values import ValueChecks
from monitor.config.model import BrowserConfig, Channel, FlowObjective, JourneysConfig
from monitor.config.values import PathT, format_path, parse_date, parse_reduction

_FLOW_KINDS = ("journey", "browser")
_PLAN = ("baseline", "reduce_by", "by")


class FlowSections(ValueChecks):
    """The ``browser:`` and ``journeys:`` section builders; a mixin of
    :class:`~monitor.config.build.Builder`."""

    def browser_settings(self, raw: Mapping[str, Any]) -> BrowserConfig:
        default = BrowserConfig()
        # A missing executable is not a config error: the machine that validates the file
        # may lack the browser; the check then fails with browser_error.
        return BrowserConfig(
            executable=raw.get("executable", default.executable),
            max_concurrency=int(raw.get("max_concurrency", default.max_concurrency)),
            screenshot_dir=str(self.base_dir / raw.get("screenshot_dir",
                                                        default.screenshot_dir)),
            max_screenshots=int(raw.get("max_screenshots", default.max_screenshots)),
        )

    def journeys(self, raw: Mapping[str, Any],
                 channels: tuple[Channel, ...]) -> JourneysConfig:
        kinds = {t.name: t.kind for c in channels for t in c.targets}
        seen: dict[tuple[str, float], str] = {}
        found = (self.part(None, self.flow_objective, o, ("journeys", "objectives", i),
                           kinds, seen) for i, o in enumerate(raw.get("objectives", [])))
        return JourneysConfig(objectives=tuple(o for o in found if o is not None))

    def flow_objective(self, raw: Mapping[str, Any], path: PathT, kinds: Mapping[str, str],
                       seen: dict[tuple[str, float], str]) -> FlowObjective:
        name = raw["target"]
        kind = kinds.get(name)
        if kind is None:
            flows = [t for t, k in kinds.items() if k in _FLOW_KINDS]
            self.problem((*path, "target"), f"unknown target {name!r}" + (
                f" (did you mean {h[0]!r}?)"
                if (h := difflib.get_close_matches(name, flows, n=1)) else ""))
        elif kind not in _FLOW_KINDS:
            self.problem((*path, "target"), f"{name!r} has probe: {kind}; flow-time "
                         "objectives are for journey and browser targets")
        percentile = float(raw["percentile"])
        if (name, percentile) in seen:
            self.problem((*path, "percentile"), f"a second objective for {name!r} at "
                         f"percentile {percentile:g} (the first is at "
                         f"{seen[name, percentile]})")
        seen.setdefault((name, percentile), format_path(path))
        planned = any(k in raw for k in _PLAN)
        if "max" in raw and planned:
            self.problem((*path, "max"), "choose max, or baseline, reduce_by and by, not both")
        elif "max" not in raw and not planned and not self.refused_under(path):
            self.problem(path, "needs max, or baseline, reduce_by and by")
        by = self.date(raw.get("by"), (*path, "by"))
        since = self.date(raw.get("since"), (*path, "since"))
        if by is not None and since is not None and by <= since:
            self.problem((*path, "by"), f"{raw['by']!r} must be after since {raw['since']!r}")
        return FlowObjective(
            target=name,
            percentile=percentile,
            max_seconds=None if "max" not in raw else self.duration(
                raw["max"], (*path, "max"), 0.0),
            baseline_seconds=None if "baseline" not in raw else self.duration(
                raw["baseline"], (*path, "baseline"), 0.0),
            reduce_by=self.reduction(raw.get("reduce_by"), (*path, "reduce_by")),
            by=by,
            since=since,
        )

    def reduction(self, raw: Any, path: PathT) -> float | None:
        if raw is None:
            return None
        try:
            return parse_reduction(raw)
        except ValueError as exc:
            self.problem(path, str(exc))
            return None

    def date(self, raw: str | None, path: PathT) -> float | None:
        """Unix seconds of a ``by``/``since`` date: midnight UTC unless it says otherwise."""
        if raw is None:
            return None
        try:
            moment = parse_date(raw)
        except ValueError as exc:
            self.problem(path, str(exc))
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
