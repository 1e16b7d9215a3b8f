"""From a schema-valid configuration document to the typed :class:`~monitor.config.model.Config`.

The second layer of :mod:`monitor.config`: the cross-field checks a JSON Schema cannot
express (duplicate target names, timeout longer than interval, regexes that compile, files
that exist, ...), collected as ``(path, message)`` pairs while the frozen dataclasses are
built.  It may assume the document matched ``schemas/config.schema.json``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from alerts.config import AlertsConfig
from monitor.config.alerts import AlertChecks
from monitor.config.build_flows import FlowSections
from monitor.config.build_journeys import JourneySpecs
from monitor.config.cron import CronSchedule
from monitor.config.model import (
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    BrowserConfig,
    Channel,
    Config,
    JourneysConfig,
    MaintenanceConfig,
    ProbeSpec,
    SchedulerConfig,
    ServerConfig,
    ServiceHours,
    SloConfig,
    StoreConfig,
    Target,
)
from monitor.config.values import (
    PathT,
    format_duration,
    format_path,
    parse_listen,
)
from monitor.redact import DsnError, postgres_facts

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Defaults(NamedTuple):
    """What a target inherits from ``defaults:`` when it does not say."""

    interval: float
    timeout: float
    confirm: int


class Builder(JourneySpecs, FlowSections, AlertChecks):
    """Turns a schema-valid document into typed config, collecting cross-field problems.

    One method per section; the value checks are
    :class:`~monitor.config.build_values.ValueChecks`, the per-kind specs
    :class:`~monitor.config.build_probes.ProbeSpecs` and
    :class:`~monitor.config.build_journeys.JourneySpecs`, the ``browser:`` and
    ``journeys:`` sections :class:`~monitor.config.build_flows.FlowSections`, the
    ``alerts:`` section and labels
    :class:`~monitor.config.alerts.AlertChecks`.
    """

    def build(self, doc: Mapping[str, Any], source: str) -> Config:
        """One call per section; a new section adds one line here and one ``$defs`` entry."""
        defaults = self.part(Defaults(DEFAULT_INTERVAL_SECONDS, DEFAULT_TIMEOUT_SECONDS, 0),
                             self.defaults, doc.get("defaults", {}))
        slo = self.part(SloConfig(), self.slo, doc.get("slo", {}))
        no_channels: tuple[Channel, ...] = ()
        channels = self.part(no_channels, self.channels, doc.get("channels", {}), defaults, slo)
        return Config(
            channels=channels,
            store=self.part(StoreConfig(), self.store, doc.get("store", {})),
            server=self.part(ServerConfig(), self.server_section, doc.get("server", {})),
            scheduler=self.part(SchedulerConfig(), self.scheduler, doc.get("scheduler", {})),
            slo=slo,
            maintenance=self.part((), self.maintenance, doc.get("maintenance", []), channels),
            alerts=self.part(AlertsConfig(), self.alerts, doc.get("alerts", {})),
            browser=self.part(BrowserConfig(), self.browser_settings, doc.get("browser", {})),
            journeys=self.part(JourneysConfig(), self.journeys, doc.get("journeys", {}),
                               channels),
            source=source,
        )

    def defaults(self, raw: Mapping[str, Any]) -> Defaults:
        before = len(self.problems)
        interval = self.duration(raw.get("interval"), ("defaults", "interval"),
                                 DEFAULT_INTERVAL_SECONDS)
        timeout = self.duration(raw.get("timeout"), ("defaults", "timeout"),
                                DEFAULT_TIMEOUT_SECONDS)
        confirm = int(raw.get("confirm", 0))
        if len(self.problems) == before and timeout > interval:
            where = "timeout" if "timeout" in raw else "interval"
            self.problem(("defaults", where), f"timeout {format_duration(timeout)} is longer "
                         f"than the interval {format_duration(interval)}")
        elif len(self.problems) == before:
            self.attempts_fit(("defaults",), timeout, confirm, interval)
        return Defaults(interval, timeout, confirm)

    def attempts_fit(self, path: PathT, timeout: float, confirm: int, interval: float) -> None:
        """Refuse ``confirm`` re-attempts that cannot all time out within the interval.

        On a hung target every attempt waits its full timeout; if they add up to the
        interval, the next run finds the last one still going and is skipped.
        """
        if confirm <= 0 or timeout * (confirm + 1) < interval:
            return
        self.problem(path, f"timeout {format_duration(timeout)} x (confirm {confirm} + 1) "
                     f"attempts = {format_duration(timeout * (confirm + 1))} is not shorter "
                     f"than the interval {format_duration(interval)}, so a hung target would "
                     "skip runs; shorten the timeout, lower confirm or lengthen the interval")

    def channels(self, raw: Mapping[str, Any], defaults: Defaults,
                 slo: SloConfig) -> tuple[Channel, ...]:
        seen: dict[str, str] = {}
        channels = []
        for cname, craw in raw.items():
            cpath: PathT = ("channels", cname)
            channel_slo = self.slo_override(craw.get("slo", {}), (*cpath, "slo"), slo)
            targets = []
            for i, traw in enumerate(craw.get("targets", [])):
                tpath: PathT = (*cpath, "targets", i)
                target = self.part(None, self.named_target, traw, cname, tpath, defaults,
                                   channel_slo, seen)
                if target is not None:
                    targets.append(target)
            hours = craw.get("service_hours")
            channels.append(Channel(
                name=cname, targets=tuple(targets),
                service_hours=None if hours is None else self.part(
                    None, self.service_hours, hours, (*cpath, "service_hours")),
                slo=channel_slo,
                labels=self.labels(craw.get("labels"), (*cpath, "labels")),
            ))
        return tuple(channels)

    def named_target(self, raw: Mapping[str, Any], channel: str, path: PathT, d: Defaults,
                     channel_slo: SloConfig, seen: dict[str, str]) -> Target:
        name = raw["name"]
        if name in seen:
            self.problem((*path, "name"), f"duplicate target name {name!r} "
                         f"(first defined at {seen[name]})")
        seen.setdefault(name, format_path(path))
        target = self.target(raw, channel, path, d)
        if "slo" in raw:
            target = replace(target, slo=self.slo_override(raw["slo"], (*path, "slo"),
                                                           channel_slo))
        return target

    def target(self, raw: Mapping[str, Any], channel: str, path: PathT, d: Defaults) -> Target:
        before = len(self.problems)
        interval = self.duration(raw.get("interval"), (*path, "interval"), d.interval)
        timeout = self.duration(raw.get("timeout"), (*path, "timeout"), d.timeout)
        valid = len(self.problems) == before  # no comparison with a fallback value
        if valid and timeout > interval and ("timeout" in raw or "interval" in raw):
            self.problem((*path, "timeout" if "timeout" in raw else "interval"),
                         f"timeout {format_duration(timeout)} is longer than the interval "
                         f"{format_duration(interval)}")
        elif valid and ("timeout" in raw or "interval" in raw or "confirm" in raw):
            # Inherited alone, the defaults were checked (and reported) once, there.
            self.attempts_fit(path, timeout, int(raw.get("confirm", d.confirm)), interval)
        kind = raw["probe"]
        builders: dict[str, Callable[[Mapping[str, Any], PathT], ProbeSpec]] = {
            "http": self.http, "tcp": self.tcp, "dns": self.dns, "tls": self.tls,
            "journey": self.journey, "browser": self.browser_check,
        }
        target = Target(
            name=raw["name"], channel=channel, kind=kind, spec=builders[kind](raw, path),
            interval_seconds=interval, timeout_seconds=timeout,
            confirm=int(raw.get("confirm", d.confirm)),
            labels=self.labels(raw.get("labels"), (*path, "labels")),
        )
        latency = target.latency_threshold_seconds
        if valid and latency is not None and latency >= timeout:
            self.problem((*path, "expect", "latency"),
                         f"{format_duration(latency)} is not shorter than the timeout "
                         f"{format_duration(timeout)}, so no probe could be slow without "
                         "timing out")
        if valid and target.is_flow:
            self.flow_limits(raw, path, timeout)
        return target

    def service_hours(self, raw: Mapping[str, Any], path: PathT) -> ServiceHours:
        days: set[int] = set()
        for part in raw["days"].split(","):
            lo, _, hi = part.partition("-")
            a, b = _DAYS.index(lo), _DAYS.index(hi or lo)
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
        tz = raw.get("tz", "UTC")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(tz, sorted(available_timezones()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else " (use e.g. Asia/Shanghai)"
            self.problem((*path, "tz"), f"unknown time zone {tz!r}{hint}")
        if raw["from"] >= raw["to"]:
            self.problem((*path, "to"), f"{raw['to']!r} must be after from {raw['from']!r}")
        return ServiceHours(days=frozenset(days), start=raw["from"], end=raw["to"], tz=tz)

    def store(self, raw: Mapping[str, Any]) -> StoreConfig:
        flush = self.duration(raw.get("flush_interval"), ("store", "flush_interval"),
                              StoreConfig().flush_interval_seconds)
        cap = int(raw.get("max_pending", StoreConfig().max_pending))
        if "postgres" in raw:
            try:
                postgres_facts(raw["postgres"])
            except DsnError as exc:
                self.problem(("store", "postgres"), str(exc))
            return StoreConfig(sqlite_path=None, postgres_dsn=raw["postgres"],
                               flush_interval_seconds=flush, max_pending=cap)
        sqlite = raw.get("sqlite", "omniwatch.db")
        path = sqlite if sqlite == ":memory:" else str(self.base_dir / sqlite)
        return StoreConfig(sqlite_path=path, flush_interval_seconds=flush, max_pending=cap)

    def server(self, raw: Mapping[str, Any]) -> ServerConfig:
        if "listen" not in raw:
            return ServerConfig()
        try:
            host, port = parse_listen(raw["listen"])
        except ValueError as exc:
            self.problem(("server", "listen"), str(exc))
            return ServerConfig()
        return ServerConfig(host=host, port=port)

    def server_section(self, raw: Mapping[str, Any]) -> ServerConfig:
        # The schema refuses an empty token: "" would read as "no token, API open".
        return replace(self.server_limits(self.server(raw), raw),
                       api_token=raw.get("api_token"))

    def server_limits(self, server: ServerConfig, raw: Mapping[str, Any]) -> ServerConfig:
        default = ServerConfig()
        return replace(
            server,
            probe_concurrency=int(raw.get("probe_concurrency", default.probe_concurrency)),
            header_timeout_seconds=self.duration(
                raw.get("header_timeout"), ("server", "header_timeout"),
                default.header_timeout_seconds),
            body_timeout_seconds=self.duration(
                raw.get("body_timeout"), ("server", "body_timeout"),
                default.body_timeout_seconds),
        )

    def scheduler(self, raw: Mapping[str, Any]) -> SchedulerConfig:
        return SchedulerConfig(max_concurrency=int(raw.get("max_concurrency", 512)))

    def slo(self, raw: Mapping[str, Any]) -> SloConfig:
        base = SloConfig()
        window = self.duration(raw.get("window"), ("slo", "window"), base.window_seconds)
        if window % 60:
            self.problem(("slo", "window"), "the SLO window must be a whole number of minutes")
        timezone = raw.get("timezone", base.timezone)
        self.time_zone(timezone, ("slo", "timezone"))
        return SloConfig(
            objective=self.objective(raw, "objective", ("slo",), base.objective) or 0.999,
            window_seconds=window,
            latency_objective=self.objective(raw, "latency_objective", ("slo",), None),
            timezone=timezone,
        )

    def slo_override(self, raw: Mapping[str, Any], path: PathT, base: SloConfig) -> SloConfig:
        return replace(
            base,
            objective=self.objective(raw, "objective", path, base.objective) or base.objective,
            latency_objective=self.objective(raw, "latency_objective", path,
                                             base.latency_objective),
        )

    def maintenance(self, raw: list[Mapping[str, Any]],
                    channels: tuple[Channel, ...]) -> tuple[MaintenanceConfig, ...]:
        channel_names = {c.name for c in channels}
        target_names = {t.name for c in channels for t in c.targets}
        found = (self.part(None, self.window, w, ("maintenance", i), channel_names,
                           target_names) for i, w in enumerate(raw))
        return tuple(w for w in found if w is not None)

    def window(self, w: Mapping[str, Any], path: PathT, channel_names: set[str],
               target_names: set[str]) -> MaintenanceConfig:
        tz = w.get("tz", "UTC")
        self.time_zone(tz, (*path, "tz"))
        for key, known in (("channels", channel_names), ("targets", target_names)):
            for j, name in enumerate(w.get(key, [])):
                if name not in known:
                    self.problem((*path, key, j), f"unknown {key[:-1]} {name!r}")
        start = end = None
        if "cron" in w:
            try:
                CronSchedule.parse(w["cron"])
            except ValueError as exc:
                self.problem((*path, "cron"), str(exc))
        else:
            start = self.timestamp(w["start"], tz, (*path, "start"))
            end = self.timestamp(w["end"], tz, (*path, "end"))
            if start is not None and end is not None and end <= start:
                self.problem((*path, "end"), "end must be after start")
        return MaintenanceConfig(
            name=w["name"], start=start, end=end, cron=w.get("cron"),
            duration_seconds=self.duration(w.get("duration"), (*path, "duration"), 0.0)
            if "duration" in w else 0.0,
            tz=tz, channels=frozenset(w.get("channels", [])),
            targets=frozenset(w.get("targets", [])),
        )
