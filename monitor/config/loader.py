"""Load, validate and type an omniwatch configuration file.

Two layers, as blackbox_exporter does it.  The JSON Schema in ``schemas/`` checks the shape
(unknown keys are always rejected); :mod:`monitor.config.messages` words each failure.
Once the shape is right, :mod:`monitor.config.build` runs the cross-field checks and builds
the frozen dataclasses of :mod:`monitor.config.model`; the ``consistency:`` section has its
own schema and builder, :mod:`monitor.config.consistency`.  Both layers run even when the
first finds problems (:mod:`monitor.config.lenient`), so every problem is reported at
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
* Relative file names (``ca_file``, ``sqlite``, ``screenshot_dir``) start at the config
  file's directory.
* A journey's ``{{ name }}`` must be in its ``vars`` or extracted by an earlier step (in
  run order: the steps, then ``finally``); a browser check's only in a ``fill`` value,
  from ``vars``.  Messages name variables, never their values.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config.errors import ConfigError, ConfigProblem
from monitor.config.lenient import news
from monitor.config.model import Config
from monitor.config.values import TOP_LEVEL, PathT, format_path, show

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{[^}]*\}?")


@cache
def config_schema() -> dict[str, Any]:
    """The packaged JSON Schema for configuration files."""
    from importlib import resources

    text = resources.files("schemas").joinpath("config.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> tuple[Draft202012Validator, dict[int, str]]:
    # jsonschema costs ~100 ms to import: only commands that read a file pay for it.
    from jsonschema import Draft202012Validator

    from monitor.config.messages import schema_locations

    schema = config_schema()
    return Draft202012Validator(schema), schema_locations(schema)


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


def _schema_problems(doc: Any, env: _Env) -> tuple[list[tuple[PathT, str]], list[PathT]]:
    """The shape problems of ``doc``, and the paths of the values they refuse."""
    from monitor.config.lenient import bad_paths
    from monitor.config.messages import explain, location

    validator, locations = _validator()
    errors = list(validator.iter_errors(doc))
    bad_env = {p for p, _ in env.problems}
    found = [
        (path, message)
        for error in errors
        for path, message in explain(error, location(error, locations), env.originals)
        if path not in bad_env
    ]
    return found, [*bad_env, *bad_paths(errors)]


def _located(file: str, found: Iterable[tuple[PathT, str]]) -> list[ConfigProblem]:
    return [ConfigProblem(file, format_path(path), message) for path, message in found]


def parse_config(
    text: str, *, file: str = "<string>", env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Config:
    """Parse and validate configuration ``text``; raise :class:`ConfigError` listing all faults.

    An empty document (or one of comments only) is refused: it is almost always the wrong
    file, and a monitor of nothing would report every SLO as met.  ``base_dir`` anchors
    relative file names (the current directory when omitted).
    """
    # Imported here, as are jsonschema and the builder: `omniwatch probe URL` and `--help`
    # never read a file, so they never pay for PyYAML and the cross-field checks.
    from monitor.config.yaml12 import read_yaml

    doc = read_yaml(text, file)
    if doc is None:
        raise ConfigError([ConfigProblem(
            file, TOP_LEVEL, "the file is empty (no channels, store or any other section)")])
    if not isinstance(doc, dict):
        raise ConfigError([ConfigProblem(
            file, TOP_LEVEL, f"expected a mapping of sections (channels, store, ...), "
                             f"got {show(doc)}")])
    subst = _Env(os.environ if env is None else env)
    doc = subst.substitute(doc)
    shape, refused = _schema_problems(doc, subst)
    shape_problems = _located(file, [*subst.problems, *shape])
    if shape_problems:
        # Both layers, so that one run lists everything: the builder sees the document
        # without the refused values and skips what it still cannot read.
        from monitor.config.lenient import prune

        doc = prune(doc, refused)
    config, semantic = _build(doc, file, base_dir or Path.cwd(), subst.originals,
                              refused if shape_problems else None)
    problems = [*shape_problems, *news(semantic, refused)]
    if problems:
        raise ConfigError(problems)
    return config


def _build(doc: dict[str, Any], file: str, base_dir: Path, originals: Mapping[PathT, str],
           refused: list[PathT] | None) -> tuple[Config, list[ConfigProblem]]:
    """The typed config and the cross-field problems of both builders; ``refused`` when
    the schema failed (lenient), the paths it took out."""
    from monitor.config.build import Builder

    builder = Builder(base_dir, originals, lenient=refused is not None, refused=refused or ())
    config = builder.build(doc, file)
    problems = _located(file, builder.problems)
    if isinstance(doc.get("consistency"), dict):
        # Imported here: a file without the section never loads the consistency engine's
        # normalisers and record schema.
        from monitor.config.consistency import build_datasets

        try:
            config = dataclasses.replace(config, consistency=build_datasets(
                doc["consistency"], file, base_dir))
        except ConfigError as exc:
            problems += exc.problems
    return config, problems


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

