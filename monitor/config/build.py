"""From a schema-valid configuration document to the typed :class:`~monitor.config.model.Config`.

The second layer of :mod:`monitor.config`: the cross-field checks a JSON Schema cannot
express (duplicate target names, timeout longer than interval, regexes that compile, files
that exist, ...), collected as ``(path, message)`` pairs while the frozen dataclasses are
built.  It may assume the document matched ``schemas/config.schema.json``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from monitor.config.cron import CronSchedule
from monitor.config.lenient import SKIPPED
from monitor.config.model import (
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
    Channel,
    Config,
    DnsSpec,
    HttpExpect,
    HttpSpec,
    MaintenanceConfig,
    ProbeSpec,
    SchedulerConfig,
    ServerConfig,
    ServiceHours,
    SloConfig,
    StoreConfig,
    Target,
    TcpSpec,
    TlsClientConfig,
    TlsSpec,
)
from monitor.config.values import (
    PathT,
    format_duration,
    format_path,
    parse_duration,
    parse_listen,
    parse_objective,
    show,
)
from monitor.redact import DsnError, postgres_facts

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
T = TypeVar("T")
P = ParamSpec("P")


class Defaults(NamedTuple):
    """What a target inherits from ``defaults:`` when it does not say."""

    interval: float
    timeout: float
    confirm: int


class Builder:
    """Turns a schema-valid document into typed config, collecting cross-field problems.

    ``lenient`` is for a document the schema refused (its refused values taken out): the
    checks still run where they can, and a part the builder cannot read is skipped.
    """

    def __init__(self, base_dir: Path, originals: Mapping[PathT, str], *,
                 lenient: bool = False) -> None:
        self.base_dir = base_dir
        self.originals = originals
        self.lenient = lenient
        self.problems: list[tuple[PathT, str]] = []

    def part(self, fallback: T, build: Callable[P, T], /, *args: P.args,
             **kwargs: P.kwargs) -> T:
        """``build(...)``; when lenient, ``fallback`` if that part is not in shape to be
        read (the schema reported why).  Strict, every exception is a bug and propagates."""
        if not self.lenient:
            return build(*args, **kwargs)
        try:
            return build(*args, **kwargs)
        except SKIPPED:
            return fallback

    def problem(self, path: PathT, message: str) -> None:
        self.problems.append((path, message))

    def show(self, path: PathT, value: Any) -> str:
        return repr(self.originals[path]) if path in self.originals else show(value)

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
            source=source,
        )

    # -- values ------------------------------------------------------------------------

    def duration(self, raw: Any, path: PathT, default: float) -> float:
        if raw is None:
            return default
        try:
            seconds = parse_duration(raw)
        except ValueError as exc:
            self.problem(path, str(exc))
            return default
        if seconds <= 0:
            self.problem(path, f"{self.show(path, raw)} must be greater than zero")
            return default
        return seconds

    def regex(self, raw: str | None, path: PathT) -> str | None:
        if raw is not None:
            try:
                re.compile(raw)
            except re.error as exc:
                self.problem(path, f"{self.show(path, raw)} is not a regular expression: {exc}")
        return raw

    def file(self, raw: str | None, path: PathT) -> str | None:
        if raw is None:
            return None
        p = self.base_dir / raw
        if p.is_dir():
            self.problem(path, f"{self.show(path, raw)} is a directory, not a file")
        elif not p.is_file():
            where = "" if Path(raw).is_absolute() else " (relative to the config file's directory)"
            self.problem(path, f"file {self.show(path, raw)} does not exist{where}")
        return str(p)

    def tls_client(self, raw: Mapping[str, Any], path: PathT) -> TlsClientConfig:
        if raw.get("insecure_skip_verify") and "ca_file" in raw:
            self.problem((*path, "insecure_skip_verify"),
                         "true ignores ca_file; remove one of them")
        return TlsClientConfig(
            ca_file=self.file(raw.get("ca_file"), (*path, "ca_file")),
            cert_file=self.file(raw.get("cert_file"), (*path, "cert_file")),
            key_file=self.file(raw.get("key_file"), (*path, "key_file")),
            insecure_skip_verify=raw.get("insecure_skip_verify", False),
            server_name=raw.get("server_name"),
        )

    def latency(self, exp: Mapping[str, Any], path: PathT) -> float | None:
        raw = exp.get("latency")
        return None if raw is None else self.duration(raw, (*path, "expect", "latency"), 0.0)

    # -- sections ------------------------------------------------------------------------

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
        }
        target = Target(
            name=raw["name"], channel=channel, kind=kind, spec=builders[kind](raw, path),
            interval_seconds=interval, timeout_seconds=timeout,
            confirm=int(raw.get("confirm", d.confirm)),
        )
        latency = target.latency_threshold_seconds
        if valid and latency is not None and latency >= timeout:
            self.problem((*path, "expect", "latency"),
                         f"{format_duration(latency)} is not shorter than the timeout "
                         f"{format_duration(timeout)}, so no probe could be slow without "
                         "timing out")
        return target

    def http(self, raw: Mapping[str, Any], path: PathT) -> HttpSpec:
        exp, epath = raw.get("expect", {}), (*path, "expect")
        method = raw.get("method", "POST" if "body" in raw else "GET")
        if "body" in raw and method in ("GET", "HEAD"):
            self.problem((*path, "body"), f"a {method} request sends no body; use POST, PUT "
                         "or PATCH, or remove body")
        if method == "HEAD":
            for key in ("body_regex", "body_not_regex", "json", "json_schema"):
                if key in exp:
                    self.problem((*epath, key), "a HEAD response has no body to check")
        if raw.get("follow_redirects") is False and "max_redirects" in raw:
            self.problem((*path, "max_redirects"), "has no effect when follow_redirects is false")
        headers: dict[str, str] = {}
        for key in raw.get("headers", {}):
            if key.lower() in headers:
                self.problem((*path, "headers", key), f"duplicate header {key!r} (header names "
                             f"ignore case; {headers[key.lower()]!r} is the same header)")
            headers.setdefault(key.lower(), key)
        schema = exp.get("json_schema")
        if schema is not None:
            self.json_schema(schema, (*epath, "json_schema"))
        return HttpSpec(
            url=raw["url"],
            method=method,
            headers=tuple(raw.get("headers", {}).items()),
            body=raw.get("body"),
            follow_redirects=raw.get("follow_redirects", True),
            max_redirects=int(raw.get("max_redirects", 10)),
            max_body_bytes=int(raw.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)),
            tls=self.tls_client(raw.get("tls", {}), (*path, "tls")),
            expect=HttpExpect(
                status=tuple(exp.get("status", ())),
                body_regex=self.regex(exp.get("body_regex"), (*epath, "body_regex")),
                body_not_regex=self.regex(exp.get("body_not_regex"), (*epath, "body_not_regex")),
                json=exp.get("json", {}),
                json_schema=schema,
                latency_seconds=self.latency(exp, path),
            ),
        )

    def json_schema(self, schema: Mapping[str, Any], path: PathT) -> None:
        import jsonschema  # already loaded by the loader's shape check; imported late with it

        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        for error in cls(cls.META_SCHEMA).iter_errors(schema):
            while error.context:  # the most specific reason, not "not valid under any of ..."
                error = jsonschema.exceptions.best_match(error.context) or error.context[0]
            self.problem((*path, *error.absolute_path), f"not a valid JSON Schema: {error.message}")

    def tcp(self, raw: Mapping[str, Any], path: PathT) -> TcpSpec:
        exp, tls = raw.get("expect", {}), raw.get("tls", False)
        return TcpSpec(
            host=raw["host"],
            port=int(raw["port"]),
            tls=tls is not False,
            tls_config=self.tls_client(tls if isinstance(tls, dict) else {}, (*path, "tls")),
            send=raw.get("send"),
            expect_regex=self.regex(exp.get("regex"), (*path, "expect", "regex")),
            latency_seconds=self.latency(exp, path),
        )

    def dns(self, raw: Mapping[str, Any], path: PathT) -> DnsSpec:
        exp = raw.get("expect", {})
        answers = exp.get("answers", [])
        for i, answer in enumerate(answers):
            # An entry is a record's exact text, or a regular expression after a "~".
            if answer.startswith("~"):
                self.regex(answer[1:], (*path, "expect", "answers", i))
        return DnsSpec(
            query_name=raw["query"],
            record_type=raw.get("record_type", "A"),
            server=raw.get("server"),
            port=int(raw.get("port", 53)),
            transport=raw.get("transport", "udp"),
            expect_rcode=exp.get("rcode", "NOERROR"),
            expect_answers=tuple(answers),
            latency_seconds=self.latency(exp, path),
        )

    def tls(self, raw: Mapping[str, Any], path: PathT) -> TlsSpec:
        exp = raw.get("expect", {})
        return TlsSpec(
            host=raw["host"],
            port=int(raw.get("port", 443)),
            tls_config=self.tls_client(raw.get("tls", {}), (*path, "tls")),
            min_valid_seconds=self.duration(exp.get("min_valid"), (*path, "expect", "min_valid"),
                                            0.0),
            latency_seconds=self.latency(exp, path),
        )

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
        return self.server_limits(self.server(raw), raw)

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

    def objective(self, raw: Mapping[str, Any], key: str, path: PathT,
                  default: float | None) -> float | None:
        if key not in raw:
            return default
        try:
            return parse_objective(raw[key])
        except ValueError as exc:
            self.problem((*path, key), str(exc))
            return default

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

    def time_zone(self, tz: str, path: PathT) -> None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(path, f"unknown time zone {tz!r}")

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

    def timestamp(self, raw: str, tz: str, path: PathT) -> float | None:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError as exc:
            self.problem(path, f"{raw!r} is not a date and time: {exc}")
            return None
        if moment.tzinfo is None:
            try:
                moment = moment.replace(tzinfo=ZoneInfo(tz))
            except (ZoneInfoNotFoundError, ValueError):
                return None
        return moment.timestamp()
