"""Load, validate and type an omniwatch configuration file.

Two layers, as blackbox_exporter does it.  The JSON Schema in ``schemas/`` checks the shape
(unknown keys are always rejected); :mod:`monitor.config_messages` words each failure.
Once the shape is right, :mod:`monitor.config_build` runs the cross-field checks and builds
the frozen dataclasses of :mod:`monitor.model`.  Every problem of a layer is reported at
once, one line each, sorted by path::

    omniwatch.yaml: channels.app.targets[2].url: 'ftp://x' is not an http(s) URL
    omniwatch.yaml: (top level): unknown key 'chanels' (did you mean 'channels'?)
    omniwatch.yaml: line 7, column 3: invalid YAML: mapping values are not allowed here
    omniwatch.yaml: cannot read: No such file or directory

Decisions worth knowing:

* ``${VAR}`` in any string is replaced from the environment; ``$$`` is a literal ``$``; a
  ``$`` followed by anything else is kept (so ``^OK$`` needs no escaping).
* YAML is read the YAML 1.2 way for numbers and dates: ``to: 17:00`` is the text "17:00",
  not 1020 (base 60).  Duplicate keys and non-text keys are errors.
* An http ``body`` with ``method: GET`` or ``HEAD`` is an error (the body would be dropped by
  many servers and proxies); with a body and no method, the method is POST.
* A tcp ``expect.regex`` without ``send`` is fine: the banner is matched.
* ``expect.latency`` must be shorter than the timeout, or no probe could ever be degraded.
* Relative file names (``ca_file``, ``sqlite``) start at the config file's directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from monitor.config_build import Builder
from monitor.config_messages import explain, location, schema_locations
from monitor.config_values import (
    TOP_LEVEL,
    PathT,
    format_duration,
    format_path,
    parse_duration,
    parse_objective,
    show,
)
from monitor.model import Config

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{[^}]*\}?")


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a configuration file: the file, where in it, and what.

    ``path`` is ``channels.app.targets[2].url``, ``(top level)``, ``line 3, column 5`` for
    YAML syntax, or empty when the problem is the file itself (missing, not UTF-8).
    """

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """A configuration could not be loaded; ``problems`` lists every reason, sorted by path."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = tuple(sorted(set(problems), key=_problem_order))
        super().__init__("\n".join(str(p) for p in self.problems))


def _problem_order(p: ConfigProblem) -> tuple[Any, ...]:
    # Natural order, so targets[2] comes before targets[10].
    parts = re.split(r"(\d+)", p.path)
    return tuple((0, int(s), "") if i % 2 else (1, 0, s) for i, s in enumerate(parts)), p.message


@cache
def config_schema() -> dict[str, Any]:
    """The packaged JSON Schema for configuration files."""
    text = resources.files("schemas").joinpath("config.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> tuple[jsonschema.Draft202012Validator, dict[int, str]]:
    schema = config_schema()
    return jsonschema.Draft202012Validator(schema), schema_locations(schema)


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate and non-text keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            mark = key_node.start_mark
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {show(key)} must be text (put it in quotes)", mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key]})", mark)
            seen[key] = mark.line + 1
        return super().construct_mapping(node, deep)


# YAML 1.2 numbers: no base-60 ("17:00" → 1020), no octal; and no implicit dates.
_YAML_INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$")
_YAML_FLOAT = re.compile(
    r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, {"tag:yaml.org,2002:int": _YAML_INT, "tag:yaml.org,2002:float": _YAML_FLOAT}
         .get(tag, regex))
        for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Env:
    """Substitutes ``${VAR}``, remembering what was written and what could not be resolved."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.originals: dict[PathT, str] = {}
        self.problems: list[tuple[PathT, str]] = []

    def substitute(self, node: Any, path: PathT = ()) -> Any:
        if isinstance(node, dict):
            return {k: self.substitute(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self.substitute(v, (*path, i)) for i, v in enumerate(node)]
        if not isinstance(node, str) or "$" not in node:
            return node

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if m.group(0) == "$$":
                return "$"
            if name is None:
                self.problems.append((path, f"{m.group(0)!r} is not a valid variable reference "
                                            "(use ${NAME}, or $$ for a literal $)"))
            elif name not in self.env:
                self.problems.append((path, f"environment variable {name} is not set"))
            else:
                return self.env[name]
            return m.group(0)

        if "${" in node:
            self.originals[path] = node
        return _ENV_REF.sub(repl, node)


def _schema_problems(doc: Any, env: _Env) -> list[tuple[PathT, str]]:
    validator, locations = _validator()
    bad_env = {p for p, _ in env.problems}
    return [
        (path, message)
        for error in validator.iter_errors(doc)
        for path, message in explain(error, location(error, locations), env.originals)
        if path not in bad_env
    ]


def _located(file: str, found: Iterable[tuple[PathT, str]]) -> list[ConfigProblem]:
    return [ConfigProblem(file, format_path(path), message) for path, message in found]


def parse_config(
    text: str, *, file: str = "<string>", env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Config:
    """Parse and validate configuration ``text``; raise :class:`ConfigError` listing all faults.

    An empty document is the embedded defaults with no targets.  ``base_dir`` anchors
    relative file names (the current directory when omitted).
    """
    try:
        doc = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else TOP_LEVEL
        context = ""
        if exc.context and exc.context_mark and exc.context_mark.line != getattr(mark, "line", -1):
            context = f" ({exc.context} from line {exc.context_mark.line + 1})"
        if "'\\t'" in (exc.problem or ""):
            context = " (indent with spaces, not tabs)"
        message = f"invalid YAML: {exc.problem}{context}"
        raise ConfigError([ConfigProblem(file, where, message)]) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError([ConfigProblem(
            file, TOP_LEVEL, f"expected a mapping of sections (channels, store, ...), "
                             f"got {show(doc)}")])
    subst = _Env(os.environ if env is None else env)
    doc = subst.substitute(doc)
    problems = _located(file, [*subst.problems, *_schema_problems(doc, subst)])
    if problems:
        raise ConfigError(problems)
    builder = Builder(base_dir or Path.cwd(), subst.originals)
    config = builder.build(doc, file)
    problems = _located(file, builder.problems)
    if "consistency" in doc:
        # Imported here: the consistency section's builder itself uses this module.
        from monitor.consistency.config import build_consistency

        try:
            config = dataclasses.replace(config, consistency=build_consistency(
                doc["consistency"], file, base_dir or Path.cwd()))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return config


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the configuration file at ``path`` (named in messages as given)."""
    file, p = os.fspath(path), Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ConfigError([ConfigProblem(file, "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(
            file, "", f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        )]) from None
    return parse_config(text, file=file, env=env, base_dir=p.resolve().parent)


__all__ = [
    "ConfigError", "ConfigProblem", "config_schema", "format_duration", "format_path",
    "load_config", "parse_config", "parse_duration", "parse_objective",
]
