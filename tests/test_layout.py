"""The layout holds: no import circle between modules or between packages, and the CLI
imports what a command needs only when it runs.

The import graph is read from the source (every ``import``, inside functions too; not
those under ``if TYPE_CHECKING:``, which never run), so a circle fails here before it
fails, or worse half-works, at import time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor", "probes", "alerts")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, modules: dict[str, Path]) -> Iterator[str]:
    skipped = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
               and _type_checking(block) for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in modules:
                    yield submodule
                elif node.module in modules:
                    yield node.module


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports at run time."""
    modules = _modules()
    return {name: set(_imports(ast.parse(path.read_text("utf-8")), modules))
            for name, path in modules.items()}


def package_of(module: str) -> str:
    """``monitor.slo.budget`` → ``monitor.slo``; a top-level module is its own package."""
    parts = module.split(".")
    if parts[0] == "monitor" and len(parts) > 1 and (ROOT / "monitor" / parts[1]).is_dir():
        return ".".join(parts[:2])
    return parts[0] if parts[0] != "monitor" else module


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one node, or a self-loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_in_a_circle() -> None:
    assert cycles(import_graph()) == []


def test_packages_form_a_hierarchy() -> None:
    packages: dict[str, set[str]] = {}
    for module, imported in import_graph().items():
        for other in imported:
            a, b = package_of(module), package_of(other)
            if a != b:
                packages.setdefault(a, set()).add(b)
    assert cycles(packages) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


HEAVY = ("psycopg", "pymysql", "jsonschema", "dns", "yaml", "asyncio", "aiohttp",
         "prometheus_client", "apscheduler", "monitor.store", "monitor.consistency",
         "slack_sdk", "alerts.providers")


def _loaded_after(code: str) -> set[str]:
    report = "import sys\nprint('--modules--', *sys.modules, sep='\\n')"
    out = subprocess.run([sys.executable, "-c", f"{code}\n{report}"], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return set(out.stdout.partition("--modules--")[2].split())


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_importing_the_cli_loads_no_driver_or_validator() -> None:
    assert _heavy(_loaded_after("import monitor.cli")) == []


@pytest.mark.parametrize("argv", [
    ["--help"], ["alerts", "--help"], ["alerts", "list", "--help"],
    ["alerts", "test", "--help"], ["silence", "--help"], ["silence", "add", "--help"],
])
def test_help_loads_nothing_a_command_needs_to_run(argv: list[str]) -> None:
    code = ("from monitor.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    assert _heavy(_loaded_after(code)) == []


@pytest.mark.parametrize("url", ["tcp://127.0.0.1:9", "http://127.0.0.1:9/"])
def test_probing_a_url_loads_no_store_driver_or_validator(url: str) -> None:
    code = (f"from monitor.cli import main\nmain(['probe', {url!r}, '--timeout', '100ms',"
            " '--json'])")
    loaded = _loaded_after(code)
    assert [m for m in _heavy(loaded) if not m.startswith("asyncio")] == []


def test_parser_choices_mirror_their_registries() -> None:
    from monitor.cli.parser import CONSISTENCY_MODES, REPORT_FORMATS
    from monitor.consistency.run import MODES
    from monitor.slo.render import RENDERERS

    assert tuple(sorted(RENDERERS)) == REPORT_FORMATS
    assert CONSISTENCY_MODES == MODES


def test_validating_a_config_loads_no_database_driver(tmp_path: Path) -> None:
    config = tmp_path / "omniwatch.yaml"
    config.write_text(
        'store: {postgres: "host=db.example dbname=omniwatch user=monitor"}\n'
        "channels: {app: {targets: [{name: a, probe: tcp, host: 127.0.0.1, port: 9}]}}\n"
        "consistency:\n  reference: branch\n  sources:\n"
        '    branch: {kind: postgres, dsn: "postgresql://u@db.example/bank", table: c}\n'
        '    app: {kind: mysql, dsn: "mysql://u@db.example:3306/app", table: c}\n')
    code = ("from monitor.cli import main\n"
            f"assert main(['config', 'validate', {str(config)!r}]) == 0")
    loaded = _loaded_after(code)
    assert [m for m in loaded if m.split(".")[0] in ("psycopg", "pymysql")] == []
