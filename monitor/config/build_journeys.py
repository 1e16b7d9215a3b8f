"""The multi-step kinds: a ``journey`` or ``browser`` target entry becomes its typed spec,
with the checks a schema cannot make: which ``{{ name }}`` each step uses and who extracts
it first, extract rules that name one value, unique step names, step limits within the
target's timeout.  Their sections are :mod:`monitor.config.build_flows`.

Variables are secrets: a message names a variable, never its value.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from monitor.config import jsonpath, template
from monitor.config.build_probes import ProbeSpecs
from monitor.config.model import (
    BROWSER_ACTIONS,
    BrowserSpec,
    BrowserStep,
    Extract,
    JourneySpec,
    JourneyStep,
)
from monitor.config.values import (
    PathT,
    format_duration,
    format_path,
    parse_duration,
)

_SOURCES = ("json", "header", "cookie", "regex")
# The request keys whose strings the probe fills in (``template.fill``); a placeholder
# anywhere else would be sent as written.
_FILLED = ("url", "headers", "body", "json")


class _Extractor(NamedTuple):
    """A step that extracts ``var``: the ``order``-th to run (finally steps last)."""

    order: int
    var: str
    step: str
    path: PathT


def _hint(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _seconds(raw: Any) -> float | None:
    """``raw`` in seconds; None when absent or wrong (reported where it is read)."""
    try:
        return None if raw is None else parse_duration(raw) or None
    except ValueError:
        return None


def _uses(value: Any, path: PathT) -> Iterator[tuple[PathT, str]]:
    """Every ``(path, variable)`` a JSON-like request value uses, each string by its path."""
    if isinstance(value, str):
        yield from ((path, name) for name in template.names(value))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from (((*path, k), name) for name in template.names(str(k)))
            yield from _uses(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _uses(v, (*path, i))


class JourneySpecs(ProbeSpecs):
    """The ``journey`` and ``browser`` spec builders; a mixin of
    :class:`~monitor.config.build.Builder`, as :class:`ProbeSpecs` is."""

    # -- journey ---------------------------------------------------------------------------

    def journey(self, raw: Mapping[str, Any], path: PathT) -> JourneySpec:
        self.step_names(raw, path)
        self.journey_variables(raw, path)
        return JourneySpec(
            steps=self.journey_steps(raw.get("steps") or [], (*path, "steps")),
            finally_steps=self.journey_steps(raw.get("finally") or [], (*path, "finally")),
            vars=tuple((raw.get("vars") or {}).items()),
            latency_seconds=self.latency(raw.get("expect", {}), path),
        )

    def journey_steps(self, raw: Sequence[Any], path: PathT) -> tuple[JourneyStep, ...]:
        found = (self.part(None, self.journey_step, s, (*path, i)) for i, s in enumerate(raw))
        return tuple(s for s in found if s is not None)

    def journey_step(self, raw: Mapping[str, Any], path: PathT) -> JourneyStep:
        request = raw["request"]
        exp = raw.get("expect", {})
        # The expectations are compared as written: a placeholder there would never match.
        for key in ("body_regex", "body_not_regex", "json"):
            for where in dict.fromkeys(w for w, _ in _uses(exp.get(key), (*path, "expect", key))):
                self.problem(where, "{{ name }} placeholders are filled only in the request "
                             "(url, header values, body, json)")
        # Nor are the other request keys (method, tls.server_name, ...): sent as written.
        for key in (k for k in request if k not in _FILLED):
            for where in dict.fromkeys(w for w, _ in _uses(request[key],
                                                           (*path, "request", key))):
                self.problem(where, "{{ name }} placeholders are filled only in the request's "
                             "url, header values, body and json")
        rules = raw.get("extract", {})
        found = (self.extract(var, rule, (*path, "extract", var)) for var, rule in rules.items())
        return JourneyStep(
            name=raw["name"],
            request=self.http_request(request, (*path, "request"), exp,
                                      (*path, "expect")),
            json_body=request.get("json"),
            extract=tuple(e for e in found if e is not None),
        )

    def step_names(self, raw: Mapping[str, Any], path: PathT) -> None:
        """Steps and finally steps share one namespace: the names are metric labels."""
        seen: dict[str, str] = {}
        for key in ("steps", "finally"):
            for i, step in enumerate(raw.get(key) or []):
                name = step.get("name") if isinstance(step, Mapping) else None
                if not isinstance(name, str):
                    continue
                where: PathT = (*path, key, i, "name")
                if name in seen:
                    self.problem(where, f"duplicate step name {name!r} (first defined at "
                                 f"{seen[name]})")
                seen.setdefault(name, format_path(where))

    def journey_variables(self, raw: Mapping[str, Any], path: PathT) -> None:
        """Every variable a step uses must be in ``vars`` or extracted by an earlier step.

        The order is the run order: the steps, then the finally steps; a step's own
        extract runs after its request.  A finally step may use what any main step
        extracts (at run time it is skipped when that step never got to extract it).
        """
        if self.lenient and any(self.refused_under((*path, key))
                                for key in ("vars", "steps", "finally")):
            return  # what the schema took out may be where a variable comes from
        known = set(raw.get("vars") or {})
        order = [(key, i, step) for key in ("steps", "finally")
                 for i, step in enumerate(raw.get(key) or []) if isinstance(step, Mapping)]
        extractors = [_Extractor(n, var, step.get("name", f"#{i}"),
                                 (*path, key, i, "extract", var))
                      for n, (key, i, step) in enumerate(order)
                      for var in step.get("extract") or {}]
        everyone = known | {e.var for e in extractors}
        for n, (key, i, step) in enumerate(order):
            request = step.get("request")
            filled = [(k, request.get(k)) for k in _FILLED] if isinstance(request, Mapping) else []
            for k, value in filled:
                for where, name in _uses(value, (*path, key, i, "request", k)):
                    if name not in known:
                        self.unset_variable(where, name, n, extractors, everyone)
            known.update(step.get("extract") or {})

    def unset_variable(self, where: PathT, name: str, n: int,
                       extractors: list[_Extractor], everyone: set[str]) -> None:
        """``name`` is used by the ``n``-th step to run, before it is known."""
        later = next((e for e in extractors if e.var == name and e.order >= n), None)
        if later is None:
            self.problem(where, f"unknown variable {name!r} (not in vars, and no step "
                         f"extracts it{_hint(name, everyone)})")
        else:
            self.problem(where, f"variable {name!r} is used before any step extracts it "
                         f"(extracted by step {later.step!r} at {format_path(later.path)})")

    def extract(self, var: str, rule: Mapping[str, Any], path: PathT) -> Extract | None:
        sources = [s for s in _SOURCES if s in rule]
        if len(sources) != 1:
            self.problem(path, "needs one source: json, header, cookie or regex" if not sources
                         else f"choose one source, not {' and '.join(sources)}")
            return None
        source = sources[0]
        key, group = rule[source], rule.get("group", 1)
        if "group" in rule and source != "regex":
            self.problem((*path, "group"), "applies to a regex source only")
        elif source == "json":
            try:
                jsonpath.parse(key)
            except ValueError as exc:
                self.problem((*path, "json"), str(exc))
        elif source == "regex":
            self.regex_group(key, group, path, explicit="group" in rule)
        return Extract(var=var, source=source, key=key, group=group)

    def regex_group(self, pattern: str, group: int | str, path: PathT, *,
                    explicit: bool) -> None:
        before = len(self.problems)
        self.regex(pattern, (*path, "regex"))
        if len(self.problems) > before:
            return
        compiled = re.compile(pattern)
        where: PathT = (*path, "group") if explicit else (*path, "regex")
        shown = self.show((*path, "regex"), pattern)
        if isinstance(group, int) and group > compiled.groups:
            self.problem(where, f"{shown} has no group {group} " + (
                "(put the value in parentheses)" if not compiled.groups
                else f"(it has {compiled.groups})"))
        elif isinstance(group, str) and group not in compiled.groupindex:
            names = ", ".join(compiled.groupindex)
            self.problem(where, f"{shown} has no group named {group!r}"
                         + (f" (it has: {names})" if names else ""))

    # -- browser ---------------------------------------------------------------------------

    def browser_check(self, raw: Mapping[str, Any], path: PathT) -> BrowserSpec:
        variables = raw.get("vars") or {}
        steps = raw.get("steps") or []
        names = self.browser_step_names(steps, path)
        # Without the vars the schema took out, every use of them would look unknown.
        known = None if self.refused_under((*path, "vars")) else set(variables)
        built = (self.part(None, self.browser_step, step, (*path, "steps", i), name, known)
                 for i, (step, name) in enumerate(zip(steps, names, strict=True)))
        viewport = raw.get("viewport", {})
        default = BrowserSpec(steps=())
        return BrowserSpec(
            steps=tuple(s for s in built if s is not None),
            vars=tuple(variables.items()),
            viewport=(int(viewport.get("width", default.viewport[0])),
                      int(viewport.get("height", default.viewport[1]))),
            ignore_https_errors=bool(raw.get("ignore_https_errors", False)),
            latency_seconds=self.latency(raw.get("expect", {}), path),
        )

    def browser_step_names(self, steps: Sequence[Any], path: PathT) -> list[str]:
        """Each step's name: given, else its action, ``-2``, ``-3`` ... for repeats.

        Given names are taken first, so a generated one never collides with them.
        """
        given: dict[str, str] = {}
        for i, step in enumerate(steps):
            name = step.get("name") if isinstance(step, Mapping) else None
            if isinstance(name, str):
                where: PathT = (*path, "steps", i, "name")
                if name in given:
                    self.problem(where, f"duplicate step name {name!r} (first defined at "
                                 f"{given[name]})")
                given.setdefault(name, format_path(where))
        taken, names = set(given), []
        for step in steps:
            step = step if isinstance(step, Mapping) else {}
            name = step.get("name")
            if not isinstance(name, str):
                base = next((a for a in BROWSER_ACTIONS if a in step), "step")
                name, n = base, 1
                while name in taken:
                    n += 1
                    name = f"{base}-{n}"
                taken.add(name)
            names.append(name)
        return names

    def browser_step(self, raw: Mapping[str, Any], path: PathT, name: str,
                     variables: set[str] | None) -> BrowserStep | None:
        """One step; ``variables`` are the check's vars (None: not known, not checked)."""
        actions = [a for a in BROWSER_ACTIONS if a in raw]
        if not actions and any(self.refused_under((*path, a)) for a in BROWSER_ACTIONS):
            return None  # the schema refused the action (and said why)
        if len(actions) != 1:
            self.problem(path, f"needs one action: {', '.join(BROWSER_ACTIONS)}" if not actions
                         else f"choose one action per step, not {' and '.join(actions)}")
            return None
        action = actions[0]
        for key, only in (("value", "fill"), ("selector", "expect_text")):
            if key in raw and action != only:
                self.problem((*path, key), f"applies to {only} only")
        if action in ("expect_no_console_errors", "expect_requests_ok") and not raw[action]:
            self.problem((*path, action), "false checks nothing; set true or remove the step")
        wait = raw.get("wait_for")
        plain: list[tuple[PathT, Any]] = [((*path, k), raw.get(k)) for k in (
            "goto", "click", "fill", "wait_for", "expect_text", "selector")]
        if isinstance(wait, Mapping):
            plain.append(((*path, "wait_for", "text"), wait.get("text")))
        for where, text in plain:
            if isinstance(text, str) and template.names(text):
                self.problem(where, "{{ name }} placeholders are filled only in a fill step's "
                             "value")
        value = raw.get("value")
        used = template.names(value) if isinstance(value, str) else []
        for var in used:
            if variables is not None and var not in variables:
                self.problem((*path, "value"), f"unknown variable {var!r} (not in vars; a "
                             f"browser check extracts nothing{_hint(var, variables)})")
        return BrowserStep(
            name=name,
            action=action,
            url=raw.get("goto"),
            selector=raw.get("click") or raw.get("fill") or raw.get("selector")
            or (wait if isinstance(wait, str) else None),
            text=raw.get("expect_text") or (wait.get("text") if isinstance(wait, Mapping)
                                            else None),
            value=value,
            timeout_seconds=None if "timeout" not in raw else self.duration(
                raw["timeout"], (*path, "timeout"), 0.0),
        )

    # -- both ------------------------------------------------------------------------------

    def flow_limits(self, raw: Mapping[str, Any], path: PathT, timeout: float) -> None:
        """Per-step limits against the target's timeout, which bounds the whole flow."""
        for key in ("steps", "finally"):
            for i, step in enumerate(raw.get(key) or []):
                if not isinstance(step, Mapping):
                    continue
                spath: PathT = (*path, key, i)
                latency = _seconds((step.get("expect") or {}).get("latency"))
                if latency is not None and latency >= timeout:
                    self.problem((*spath, "expect", "latency"), f"{format_duration(latency)} "
                                 f"is not shorter than the timeout {format_duration(timeout)}, "
                                 "so no step could be slow without timing out")
                limit = _seconds(step.get("timeout"))
                if limit is not None and limit > timeout:
                    self.problem((*spath, "timeout"), f"{format_duration(limit)} is longer "
                                 f"than the check's timeout {format_duration(timeout)}, "
                                 "which bounds every step")
