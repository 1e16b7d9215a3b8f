"""Load, validate and type an omniwatch configuration file.

Two layers, as blackbox_exporter does it: the JSON Schema in ``schemas/`` checks shape and
names the path of every error; then cross-field checks and the conversion into the frozen
dataclasses of :mod:`monitor.model`.  Every problem found is reported at once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import yaml

from monitor.model import (
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    Channel,
    Config,
    DnsSpec,
    HttpExpect,
    HttpSpec,
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

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a configuration file, located by file and path."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """A configuration could not be loaded; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def parse_duration(value: str | float | int) -> float:
    """Seconds in ``value``: ``"1h30m"`` → 5400.0; a bare number is seconds."""
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 30s, 5m, 1h30m, 7d)")
    return total


def parse_objective(value: str | float) -> float:
    """The ratio in ``value``: ``"99.9%"`` → 0.999, ``0.999`` → 0.999."""
    if isinstance(value, str):
        if not value.endswith("%"):
            raise ValueError(f"{value!r} is not an objective (use 99.9% or 0.999)")
        ratio = float(value[:-1]) / 100.0
    else:
        ratio = float(value)
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"objective {value!r} must lie strictly between 0% and 100%")
    return ratio


def format_path(path: Iterable[str | int]) -> str:
    """``("channels", "app", "targets", 2, "url")`` → ``channels.app.targets[2].url``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@cache
def config_schema() -> dict[str, Any]:
    """The packaged JSON Schema for configuration files."""
    text = resources.files("schemas").joinpath("config.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _substitute_env(
    node: Any, env: Mapping[str, str], path: Path_, missing: list[tuple[Path_, str]]
) -> Any:
    """Replace ``${VAR}`` in every string; ``$$`` is a literal ``$``."""
    if isinstance(node, str):

        def repl(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name = m.group(1)
            if name not in env:
                missing.append((path, name))
                return ""
            return env[name]

        return _ENV_REF.sub(repl, node) if "$" in node else node
    if isinstance(node, dict):
        return {k: _substitute_env(v, env, (*path, str(k)), missing) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_env(v, env, (*path, i), missing) for i, v in enumerate(node)]
    return node


def _schema_message(error: jsonschema.ValidationError) -> str:
    """A short, specific message for the common schema failures."""
    kind = error.validator
    if kind in ("additionalProperties", "unevaluatedProperties"):
        extra = re.findall(r"'([^']+)'", error.message.split("(")[-1])
        if extra:
            return "unknown key " + ", ".join(repr(e) for e in extra)
    if kind == "required":
        return f"missing required key {error.message.split(' is a required')[0]}"
    if kind == "oneOf" and isinstance(error.schema, dict):
        ref_desc = error.schema.get("description")
        if ref_desc:
            return f"{error.instance!r} is not valid: {ref_desc}"
    if kind == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"{error.instance!r} is not one of {allowed}"
    return error.message


def _schema_problems(doc: Any, file: str) -> list[ConfigProblem]:
    validator = jsonschema.Draft202012Validator(config_schema())
    problems = []
    for err in validator.iter_errors(doc):
        # An if/then failure is reported by its inner errors; "oneOf" on a duration or
        # objective is reported once with the description, not per branch.
        leaves = [err]
        if err.validator in ("allOf", "$ref") and err.context:
            leaves = list(err.context)
        for leaf in leaves:
            path = list(leaf.absolute_path)
            message = _schema_message(leaf)
            if "propertyNames" in leaf.relative_schema_path:
                path = [*path, str(leaf.instance)]
                message = "name must start with a lower-case letter and use only a-z, 0-9, '-', '_'"
            problems.append(ConfigProblem(file, format_path(path), message))
    uniq = {(p.path, p.message): p for p in problems}
    return sorted(uniq.values(), key=lambda p: (p.path, p.message))


class _Builder:
    """Turns a schema-valid document into typed config, collecting semantic problems."""

    def __init__(self, file: str, base_dir: Path) -> None:
        self.file = file
        self.base_dir = base_dir
        self.problems: list[ConfigProblem] = []

    def problem(self, path: Path_, message: str) -> None:
        self.problems.append(ConfigProblem(self.file, format_path(path), message))

    def duration(self, raw: Any, path: Path_, default: float) -> float:
        if raw is None:
            return default
        try:
            seconds = parse_duration(raw)
        except ValueError as exc:
            self.problem(path, str(exc))
            return default
        if seconds <= 0:
            self.problem(path, f"{raw!r} must be greater than zero")
            return default
        return seconds

    def regex(self, raw: str | None, path: Path_) -> str | None:
        if raw is not None:
            try:
                re.compile(raw)
            except re.error as exc:
                self.problem(path, f"invalid regular expression: {exc}")
        return raw

    def file_path(self, raw: str | None, path: Path_) -> str | None:
        if raw is None:
            return None
        p = Path(raw)
        if not p.is_absolute():
            p = self.base_dir / p
        if not p.is_file():
            self.problem(path, f"file {raw!r} does not exist")
        return str(p)

    def tls_client(self, raw: Mapping[str, Any] | None, path: Path_) -> TlsClientConfig:
        raw = raw or {}
        return TlsClientConfig(
            ca_file=self.file_path(raw.get("ca_file"), (*path, "ca_file")),
            cert_file=self.file_path(raw.get("cert_file"), (*path, "cert_file")),
            key_file=self.file_path(raw.get("key_file"), (*path, "key_file")),
            insecure_skip_verify=bool(raw.get("insecure_skip_verify", False)),
            server_name=raw.get("server_name"),
        )

    def http(self, raw: Mapping[str, Any], path: Path_) -> HttpSpec:
        exp = raw.get("expect", {})
        epath = (*path, "expect")
        schema = exp.get("json_schema")
        if schema is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                self.problem((*epath, "json_schema"), f"not a valid JSON Schema: {exc.message}")
        latency = exp.get("latency")
        return HttpSpec(
            url=raw["url"],
            method=raw.get("method", "POST" if "body" in raw else "GET"),
            headers=tuple((str(k), str(v)) for k, v in raw.get("headers", {}).items()),
            body=raw.get("body"),
            follow_redirects=raw.get("follow_redirects", True),
            max_redirects=raw.get("max_redirects", 10),
            max_body_bytes=raw.get("max_body_bytes", HttpSpec.__dataclass_fields__[
                "max_body_bytes"].default),  # type: ignore[arg-type]
            tls=self.tls_client(raw.get("tls"), (*path, "tls")),
            expect=HttpExpect(
                status=tuple(exp.get("status", ())),
                body_regex=self.regex(exp.get("body_regex"), (*epath, "body_regex")),
                body_not_regex=self.regex(exp.get("body_not_regex"), (*epath, "body_not_regex")),
                json=dict(exp.get("json", {})),
                json_schema=schema,
                latency_seconds=None if latency is None
                else self.duration(latency, (*epath, "latency"), 0.0),
            ),
        )

    def tcp(self, raw: Mapping[str, Any], path: Path_) -> TcpSpec:
        exp = raw.get("expect", {})
        tls_raw = raw.get("tls", False)
        latency = exp.get("latency")
        return TcpSpec(
            host=raw["host"],
            port=raw["port"],
            tls=tls_raw is not False,
            tls_config=self.tls_client(
                tls_raw if isinstance(tls_raw, dict) else None, (*path, "tls")
            ),
            send=raw.get("send"),
            expect_regex=self.regex(exp.get("regex"), (*path, "expect", "regex")),
            latency_seconds=None if latency is None
            else self.duration(latency, (*path, "expect", "latency"), 0.0),
        )

    def dns(self, raw: Mapping[str, Any], path: Path_) -> DnsSpec:
        exp = raw.get("expect", {})
        latency = exp.get("latency")
        return DnsSpec(
            query_name=raw["query"],
            record_type=raw.get("record_type", "A"),
            server=raw.get("server"),
            port=raw.get("port", 53),
            transport=raw.get("transport", "udp"),
            expect_rcode=exp.get("rcode", "NOERROR"),
            expect_answers=tuple(exp.get("answers", ())),
            latency_seconds=None if latency is None
            else self.duration(latency, (*path, "expect", "latency"), 0.0),
        )

    def tls(self, raw: Mapping[str, Any], path: Path_) -> TlsSpec:
        exp = raw.get("expect", {})
        latency = exp.get("latency")
        min_valid = exp.get("min_valid")
        return TlsSpec(
            host=raw["host"],
            port=raw.get("port", 443),
            tls_config=self.tls_client(raw.get("tls"), (*path, "tls")),
            min_valid_seconds=0.0 if min_valid is None
            else self.duration(min_valid, (*path, "expect", "min_valid"), 0.0),
            latency_seconds=None if latency is None
            else self.duration(latency, (*path, "expect", "latency"), 0.0),
        )

    def service_hours(self, raw: Mapping[str, Any] | None, path: Path_) -> ServiceHours | None:
        if raw is None:
            return None
        days: set[int] = set()
        for part in raw["days"].split(","):
            lo, _, hi = part.partition("-")
            a, b = _DAYS.index(lo), _DAYS.index(hi or lo)
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        tz = raw.get("tz", "UTC")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem((*path, "tz"), f"unknown time zone {tz!r}")
        if raw["from"] >= raw["to"]:
            self.problem((*path, "to"), f"{raw['to']!r} must be after from {raw['from']!r}")
        return ServiceHours(days=frozenset(days), start=raw["from"], end=raw["to"], tz=tz)

    def build(self, doc: Mapping[str, Any], source: str) -> Config:
        defaults = doc.get("defaults", {})
        d_interval = self.duration(
            defaults.get("interval"), ("defaults", "interval"), DEFAULT_INTERVAL_SECONDS
        )
        d_timeout = self.duration(
            defaults.get("timeout"), ("defaults", "timeout"), DEFAULT_TIMEOUT_SECONDS
        )
        d_confirm = defaults.get("confirm", 0)
        spec_builders = {"http": self.http, "tcp": self.tcp, "dns": self.dns, "tls": self.tls}
        seen: dict[str, str] = {}
        channels = []
        for cname, craw in (doc.get("channels") or {}).items():
            cpath: Path_ = ("channels", cname)
            targets = []
            for i, traw in enumerate(craw.get("targets", [])):
                tpath: Path_ = (*cpath, "targets", i)
                name = traw["name"]
                if name in seen:
                    self.problem((*tpath, "name"), f"duplicate target name {name!r} "
                                 f"(first defined at {seen[name]})")
                else:
                    seen[name] = format_path(tpath)
                interval = self.duration(traw.get("interval"), (*tpath, "interval"), d_interval)
                timeout = self.duration(traw.get("timeout"), (*tpath, "timeout"), d_timeout)
                if timeout > interval:
                    self.problem((*tpath, "timeout"), f"timeout {timeout:g}s is longer than "
                                 f"the interval {interval:g}s")
                spec: ProbeSpec = spec_builders[traw["probe"]](traw, tpath)
                targets.append(Target(
                    name=name, channel=cname, kind=traw["probe"], spec=spec,
                    interval_seconds=interval, timeout_seconds=timeout,
                    confirm=traw.get("confirm", d_confirm),
                ))
            channels.append(Channel(
                name=cname, targets=tuple(targets),
                service_hours=self.service_hours(craw.get("service_hours"),
                                                 (*cpath, "service_hours")),
            ))
        store_raw = doc.get("store", {})
        store = StoreConfig(
            sqlite_path=None if "postgres" in store_raw
            else self.db_path(store_raw.get("sqlite", "omniwatch.db")),
            postgres_dsn=store_raw.get("postgres"),
        )
        slo_raw = doc.get("slo", {})
        objective = 0.999
        if "objective" in slo_raw:
            try:
                objective = parse_objective(slo_raw["objective"])
            except ValueError as exc:
                self.problem(("slo", "objective"), str(exc))
        return Config(
            channels=tuple(channels),
            store=store,
            server=self.server(doc.get("server", {})),
            scheduler=SchedulerConfig(
                max_concurrency=doc.get("scheduler", {}).get("max_concurrency", 512)
            ),
            slo=SloConfig(
                objective=objective,
                window_seconds=self.duration(slo_raw.get("window"), ("slo", "window"), 30 * 86400.0),
            ),
            source=source,
        )

    def db_path(self, raw: str) -> str:
        if raw == ":memory:" or Path(raw).is_absolute():
            return raw
        return str(self.base_dir / raw)

    def server(self, raw: Mapping[str, Any]) -> ServerConfig:
        listen = raw.get("listen")
        if listen is None:
            return ServerConfig()
        host, _, port = listen.rpartition(":")
        if not 0 <= int(port) <= 65535:
            self.problem(("server", "listen"), f"port {port} is out of range")
            return ServerConfig()
        return ServerConfig(host=host.strip("[]"), port=int(port))


def parse_config(
    text: str, *, file: str = "<string>", env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Config:
    """Parse and validate configuration ``text``; raise :class:`ConfigError` listing all faults."""
    env = os.environ if env is None else env
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(file, where, f"invalid YAML: {detail}")]) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError([ConfigProblem(file, "", "the top level must be a mapping")])
    missing: list[tuple[Path_, str]] = []
    doc = _substitute_env(doc, env, (), missing)
    problems = [
        ConfigProblem(file, format_path(p), f"environment variable {name} is not set")
        for p, name in missing
    ]
    problems += _schema_problems(doc, file)
    if problems:
        raise ConfigError(problems)
    builder = _Builder(file, base_dir or Path.cwd())
    config = builder.build(doc, file)
    if builder.problems:
        raise ConfigError(builder.problems)
    return config


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the configuration file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigProblem(str(path), "", "not UTF-8 text")]) from None
    return parse_config(text, file=str(path), env=env, base_dir=p.resolve().parent)
