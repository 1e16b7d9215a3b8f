"""Build one :class:`ConsistencyConfig` per dataset from the raw ``consistency:`` section.

The section is one dataset (its keys at the top: the dataset ``customers``) or several
under ``datasets:``, beside section-wide defaults (:data:`DEFAULT_KEYS`) that each dataset
may override.  Two layers like :mod:`monitor.config.loader`:
``schemas/consistency.schema.json`` checks the shape, then cross-field checks give exact
messages at paths such as ``consistency.datasets.accounts.sources.app.dsn`` (or
``consistency.sources.app.dsn`` in the single form; a default's own path when the
problem is in a default).  Every problem is reported at once, as a
:class:`monitor.config.ConfigError`.  ``${ENV}`` references are expected to have been
substituted by the caller (the loader does it for the whole file).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from monitor.config.errors import ConfigError, ConfigProblem
from monitor.config.lenient import SKIPPED, bad_paths, news, prune
from monitor.config.values import format_path, parse_duration, parse_objective
from monitor.consistency.model import (
    ChecksumSettings,
    ConsistencyConfig,
    FieldRule,
    Pagination,
    SourceConfig,
)
from monitor.consistency.normalise import DEFAULT_RISK_LEVELS
from monitor.consistency.schema import required_fields
from monitor.redact import DsnError, mysql_facts, postgres_facts

SECTION = "consistency"
DEFAULT_DATASET = "customers"
# Keys that may sit beside ``datasets:`` as defaults for every dataset; the mappings among
# them are merged one level deep (a dataset's ``schedule: {interval: 5m}`` keeps the
# default ``schedule.mode``).
DEFAULT_KEYS = ("objective", "grace", "hash_salt", "mode", "schedule", "sample_size",
                "max_samples", "workers", "checksum")
_MERGED_KEYS = ("schedule", "checksum")
DEFAULT_FULL_EVERY_SECONDS = 86400.0
DEFAULT_FIELDS = ("name", "phone", "id_number", "risk_level")
SQL_KINDS = ("postgres", "mysql", "sqlite")
FILE_KINDS = ("sqlite", "csv", "jsonl")

Path_ = tuple[str | int, ...]
_SECRET_KEYS = {"dsn", "hash_salt", "headers"}


@cache
def consistency_schema() -> dict[str, Any]:
    """The packaged JSON Schema of the ``consistency:`` section."""
    text = resources.files("schemas").joinpath("consistency.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def default_rule(name: str) -> FieldRule:
    """The normaliser a field gets from its name alone."""
    kinds = {"phone": "phone", "mobile": "phone", "id_number": "id_number", "email": "email",
             "balance": "number", "amount": "number"}
    if name == "risk_level":
        return FieldRule(name, "enum", mapping=DEFAULT_RISK_LEVELS)
    if name.endswith(("_date", "_on")):
        return FieldRule(name, "date")
    return FieldRule(name, kinds.get(name, "text"))


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)'", error.message.split("(")[-1])
        if extra:
            return "unknown key " + ", ".join(repr(e) for e in extra)
    if error.validator == "required":
        return f"missing required key {error.message.split(' is a required')[0]}"
    if error.validator == "enum":
        allowed = error.validator_value if isinstance(error.validator_value, list) else []
        return "must be one of " + ", ".join(repr(v) for v in allowed)
    if (error.validator == "oneOf" and isinstance(error.schema, dict)
            and error.schema.get("description")):
        return f"not valid: {error.schema['description']}"
    if error.validator == "not" and error.validator_value == {}:  # a key refused outright
        key = str(error.absolute_path[-1]) if error.absolute_path else "it"
        if key == "datasets":
            return "a dataset cannot hold 'datasets'"
        return f"{key!r} belongs in each dataset (consistency.datasets.NAME.{key})"
    if error.validator == "propertyNames":
        return "names must start with a lower-case letter and use only a-z, 0-9, '-', '_'"
    if error.validator == "minProperties" and error.path and error.path[-1] == "sources":
        return "needs the reference and at least one channel"
    if _SECRET_KEYS & {str(p) for p in error.absolute_path}:
        # The instance may be a password, a salt or a token: never echo it.
        return error.message.replace(repr(error.instance), "the value")
    return error.message


def schema_problems(raw: Any, file: str) -> list[ConfigProblem]:
    """Shape problems of ``raw`` against the section schema, with ``consistency.`` paths."""
    validator = jsonschema.Draft202012Validator(consistency_schema())
    found = {}
    for err in validator.iter_errors(raw):
        p = ConfigProblem(file, format_path((SECTION, *err.absolute_path)), _message(err))
        found[(p.path, p.message)] = p
    return sorted(found.values(), key=lambda p: (p.path, p.message))


def dataset_sections(raw: Mapping[str, Any]
                     ) -> list[tuple[str, Path_, dict[str, Any], set[Path_]]]:
    """Each dataset's raw mapping with the section's defaults merged in: ``(name, path
    prefix, merged, inherited)``; ``inherited`` holds the (one- or two-part) paths whose
    value came from a default, so that a problem in it is reported where it was written."""
    if "datasets" not in raw:
        return [(DEFAULT_DATASET, (), dict(raw), set())]
    defaults = {k: raw[k] for k in DEFAULT_KEYS if k in raw}
    out: list[tuple[str, Path_, dict[str, Any], set[Path_]]] = []
    for name, own in raw["datasets"].items():
        merged = dict(defaults)
        inherited: set[Path_] = {(k,) for k in defaults}
        for k, v in (own.items() if isinstance(own, Mapping) else ()):
            base = defaults.get(k)
            inherited.discard((k,))
            if k in _MERGED_KEYS and isinstance(base, Mapping) and isinstance(v, Mapping):
                merged[k] = {**base, **v}
                inherited |= {(k, sub) for sub in base if sub not in v}
            else:
                merged[k] = v
        out.append((str(name), ("datasets", str(name)), merged, inherited))
    return out


class _Builder:
    def __init__(self, file: str, base_dir: Path, prefix: Path_ = (),
                 inherited: set[Path_] | None = None) -> None:
        self.file = file
        self.base_dir = base_dir
        self.prefix = prefix
        self.inherited = inherited or set()
        self.problems: list[ConfigProblem] = []

    def problem(self, path: Path_, message: str) -> None:
        where = path if path[:1] in self.inherited or path[:2] in self.inherited else (
            *self.prefix, *path)
        self.problems.append(ConfigProblem(self.file, format_path((SECTION, *where)), message))

    def duration(self, raw: Any, path: Path_, default: float) -> float:
        if raw is None:
            return default
        try:
            seconds = parse_duration(raw)
        except ValueError as exc:
            self.problem(path, str(exc))
            return default
        return seconds

    def rule(self, name: str, raw: Any, hashed: bool) -> FieldRule:
        if raw is None:
            base = default_rule(name)
            return FieldRule(base.name, base.kind, base.tolerance, base.mapping, base.formats,
                             hashed)
        spec: Mapping[str, Any] = {"kind": raw} if isinstance(raw, str) else raw
        kind = spec["kind"]
        path: Path_ = ("normalisers", name)
        for option, applies in (("tolerance", "number"), ("map", "enum"), ("formats", "date")):
            if option in spec and kind != applies:
                self.problem((*path, option), f"{option!r} applies only to kind {applies!r}")
        mapping: tuple[tuple[str, str], ...] = ()
        if kind == "enum":
            given = spec.get("map")
            mapping = (tuple((str(k), str(v)) for k, v in given.items()) if given is not None
                       else DEFAULT_RISK_LEVELS if name == "risk_level" else ())
            if not mapping:
                self.problem(path, "kind 'enum' needs a 'map'")
        tol = spec.get("tolerance")
        return FieldRule(
            name=name, kind=kind, tolerance=None if tol is None else Decimal(str(tol)),
            mapping=mapping, formats=tuple(spec.get("formats", ())), hashed=hashed,
        )

    def source(self, name: str, raw: Mapping[str, Any], known: set[str]) -> SourceConfig:
        path: Path_ = ("sources", name)
        kind = raw["kind"]
        allowed = {
            "postgres": {"dsn", "table", "query"}, "mysql": {"dsn", "table", "query"},
            "sqlite": {"path", "table", "query"}, "csv": {"path"}, "jsonl": {"path"},
            "http": {"url", "headers", "pagination"},
        }[kind]
        for option in ("dsn", "path", "url", "table", "query", "headers", "pagination"):
            if option in raw and option not in allowed:
                self.problem((*path, option), f"{option!r} does not apply to kind {kind!r}")
        for needed in sorted(allowed & {"dsn", "path", "url"}):
            if needed not in raw:
                self.problem((*path, needed), f"kind {kind!r} needs {needed!r}")
        if kind in SQL_KINDS and ("table" in raw) == ("query" in raw):
            self.problem(path, "give exactly one of 'table' or 'query'")
        if "key_order" in raw and kind not in SQL_KINDS:
            self.problem((*path, "key_order"), "'key_order' applies only to SQL sources")
        if kind in ("mysql", "postgres") and "dsn" in raw:
            try:
                (mysql_facts if kind == "mysql" else postgres_facts)(raw["dsn"])
            except DsnError as exc:
                self.problem((*path, "dsn"), str(exc))
        file_path = raw.get("path")
        if kind in FILE_KINDS and file_path is not None:
            p = Path(file_path)
            p = p if p.is_absolute() else self.base_dir / p
            if not p.is_file():
                self.problem((*path, "path"), f"file {file_path!r} does not exist")
            file_path = str(p)
        columns = raw.get("columns", {})
        for canonical in columns:
            if canonical not in known:
                self.problem((*path, "columns", canonical),
                             f"{canonical!r} is neither a key nor a compared field")
        pag = raw.get("pagination", {})
        return SourceConfig(
            name=name, kind=kind, dsn=raw.get("dsn"), path=file_path, url=raw.get("url"),
            table=raw.get("table"), query=raw.get("query"),
            columns=tuple((str(k), str(v)) for k, v in columns.items()),
            updated_at=raw.get("updated_at"),
            timeout_seconds=self.duration(raw.get("timeout"), (*path, "timeout"), 60.0),
            key_order=raw.get("key_order", "binary"),
            fetch_size=raw.get("fetch_size", 5000),
            headers=tuple((str(k), str(v)) for k, v in raw.get("headers", {}).items()),
            pagination=Pagination(**pag),
        )

    def build(self, raw: Mapping[str, Any], dataset: str = DEFAULT_DATASET
              ) -> ConsistencyConfig:
        if dataset == "all":  # the overall ratio's label value
            self.problem((), "'all' is reserved for the overall ratio; choose another name")
        objective = 0.99
        if "objective" in raw:
            try:
                objective = parse_objective(raw["objective"])
            except ValueError as exc:
                self.problem(("objective",), str(exc))
        key_raw = raw.get("key", "customer_id")
        key = (key_raw,) if isinstance(key_raw, str) else tuple(key_raw)
        names = tuple(raw.get("fields", DEFAULT_FIELDS))
        for f in sorted(set(key) & set(names)):
            self.problem(("fields",), f"{f!r} is the key; it cannot also be a compared field")
        for f in required_fields():
            if f not in key and f not in names:
                self.problem(("key",), f"the customer schema requires {f!r}: use it as the "
                             "key or compare it")
        hashed = set(raw.get("hash_fields", ()))
        for f in sorted(hashed - set(names)):
            self.problem(("hash_fields",), f"{f!r} is not a compared field")
        if hashed and "hash_salt" not in raw:
            self.problem(("hash_salt",), "'hash_fields' needs a 'hash_salt'")
        normalisers = raw.get("normalisers", {})
        for f in sorted(set(normalisers) - set(names)):
            self.problem(("normalisers", f), f"{f!r} is not a compared field")
        rules = tuple(self.rule(n, normalisers.get(n), n in hashed) for n in names)
        sources_raw: Mapping[str, Any] = raw["sources"]
        reference = raw["reference"]
        if reference not in sources_raw:
            self.problem(("reference",), f"{reference!r} is not one of the sources")
        known = {*key, *names}
        sources = [self.source(n, s, known) for n, s in sources_raw.items()]
        sources.sort(key=lambda s: s.name != reference)
        schedule = raw.get("schedule", {})
        mode = raw.get("mode", "full")
        schedule_mode = schedule.get("mode", mode)
        full_every: float | None = None
        if schedule_mode == "incremental":
            full_every = self.duration(schedule.get("full_every"), ("schedule", "full_every"),
                                       DEFAULT_FULL_EVERY_SECONDS)
            if mode not in ("full", "checksum"):
                self.problem(("mode",), "an incremental schedule's whole runs need mode "
                             "'full' or 'checksum'")
            for s in sources:
                if s.updated_at is None:
                    self.problem(("sources", s.name, "updated_at"),
                                 "schedule mode 'incremental' needs 'updated_at' on every "
                                 "source")
        elif "full_every" in schedule:
            self.problem(("schedule", "full_every"),
                         "'full_every' applies only to schedule mode 'incremental'")
        return ConsistencyConfig(
            reference=reference, key=key, fields=rules, sources=tuple(sources),
            objective=objective,
            grace_seconds=self.duration(raw.get("grace"), ("grace",), 600.0),
            hash_salt=raw.get("hash_salt"), mode=mode, schedule_mode=schedule_mode,
            interval_seconds=self.duration(schedule.get("interval"), ("schedule", "interval"),
                                           3600.0),
            sample_size=raw.get("sample_size", 1000), max_samples=raw.get("max_samples", 20),
            workers=raw.get("workers", 1),
            checksum=ChecksumSettings(**raw.get("checksum", {})),
            dataset=dataset, full_every_seconds=full_every,
        )


def _build_all(raw: Mapping[str, Any], file: str, base_dir: Path, lenient: bool
               ) -> tuple[list[ConsistencyConfig], list[ConfigProblem]]:
    configs, problems = [], []
    for name, prefix, merged, inherited in dataset_sections(raw):
        builder = _Builder(file, base_dir, prefix, inherited)
        if lenient:
            with contextlib.suppress(*SKIPPED):
                builder.build(merged, name)
        else:
            configs.append(builder.build(merged, name))
        problems += builder.problems
    # A problem in a default is found once per dataset: say it once.
    return configs, list(dict.fromkeys(problems))


def build_datasets(raw: Any, file: str = "<string>", base_dir: Path | None = None
                   ) -> tuple[ConsistencyConfig, ...]:
    """Validate and type the ``consistency:`` section ``raw``: one config per dataset, in
    the order written (the single-dataset form is the one dataset ``customers``).

    Relative file paths resolve against ``base_dir`` (the config file's directory).
    Raises :class:`monitor.config.ConfigError` listing every problem.
    """
    base = base_dir or Path.cwd()
    problems = schema_problems(raw, file)
    if not problems:
        configs, found = _build_all(raw, file, base, lenient=False)
        if found:
            raise ConfigError(found)
        return tuple(configs)
    # Both layers, as the loader does (monitor.config.lenient): the cross-field checks on
    # what the schema did not refuse, skipping what cannot be read.
    errors = list(jsonschema.Draft202012Validator(consistency_schema()).iter_errors(raw))
    refused = bad_paths(errors)
    pruned = prune(raw, refused)
    found = []
    if isinstance(pruned, Mapping):
        with contextlib.suppress(*SKIPPED):
            found = _build_all(pruned, file, base, lenient=True)[1]
    raise ConfigError([*problems, *news(found, refused, (SECTION,))])


def build_consistency(raw: Any, file: str = "<string>", base_dir: Path | None = None
                      ) -> ConsistencyConfig:
    """:func:`build_datasets` for a section of one dataset (either form); ``ValueError``
    when it has several."""
    configs = build_datasets(raw, file, base_dir)
    if len(configs) != 1:
        raise ValueError(f"the section has {len(configs)} datasets; use build_datasets")
    return configs[0]
