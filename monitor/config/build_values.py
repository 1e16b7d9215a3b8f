"""The value checks the configuration builder applies everywhere: durations, regexes,
files, TLS client settings, objectives, time zones and timestamps, each reported by path."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config.lenient import SKIPPED
from monitor.config.model import (
    TlsClientConfig,
)
from monitor.config.values import (
    PathT,
    parse_duration,
    parse_objective,
    parse_timestamp,
    show,
)

T = TypeVar("T")
P = ParamSpec("P")


class ValueChecks:
    """Collects ``(path, message)`` problems while typed values are built from raw ones.

    ``lenient`` is for a document the schema refused (its refused values taken out): the
    checks still run where they can, and a part that cannot be read is skipped.
    ``refused`` are the paths of the values taken out.
    """

    def __init__(self, base_dir: Path, originals: Mapping[PathT, str], *,
                 lenient: bool = False, refused: Iterable[PathT] = ()) -> None:
        self.base_dir = base_dir
        self.originals = originals
        self.lenient = lenient
        self.refused = frozenset(refused)
        self.problems: list[tuple[PathT, str]] = []

    def refused_under(self, path: PathT) -> bool:
        """Whether the schema took out a value at or under ``path``: a check that something
        is *missing* there would then blame the user for what the schema removed."""
        return any(r[:len(path)] == path for r in self.refused)

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

    def objective(self, raw: Mapping[str, Any], key: str, path: PathT,
                  default: float | None) -> float | None:
        if key not in raw:
            return default
        try:
            return parse_objective(raw[key])
        except ValueError as exc:
            self.problem((*path, key), str(exc))
            return default

    def time_zone(self, tz: str, path: PathT) -> None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(path, f"unknown time zone {tz!r}")

    def timestamp(self, raw: str, tz: str, path: PathT) -> float | None:
        try:
            moment = parse_timestamp(raw)
        except ValueError as exc:
            self.problem(path, str(exc))
            return None
        if moment.tzinfo is None:
            try:
                moment = moment.replace(tzinfo=ZoneInfo(tz))
            except (ZoneInfoNotFoundError, ValueError):
                return None
        return moment.timestamp()
