"""What a journey spec needs prepared before it runs, built once per spec.

A journey runs every minute for months; its JSON paths, extraction regexes and JSON
Schema validators are the same every time.  :class:`JourneyPlans` (kept on
:class:`probes.context.ProbeContext`, never a global) builds a :class:`JourneyPlan` the
first time a spec runs and hands back the same one afterwards.  Specs hold dicts, so
they cannot be hashed: the cache is keyed by identity and checks the entry still
belongs to that very spec (an id can be reused once a reload drops the old one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from monitor.config import jsonpath, template
from monitor.config.model import Extract, JourneySpec, JourneyStep
from probes import _http_expect as expect

# Far more journeys than any monitor has; only reloads add entries, and a full cache is
# simply rebuilt, so stale specs cannot pile up.
MAX_PLANS: Final = 4096


@dataclass(frozen=True, slots=True)
class ExtractPlan:
    """One :class:`~monitor.config.model.Extract` ready to apply."""

    rule: Extract
    path: tuple[jsonpath.Segment, ...] = ()  # source json
    pattern: re.Pattern[str] | None = None  # source regex
    header_name: bytes = b""  # source header, lower-cased


@dataclass(frozen=True, slots=True)
class StepPlan:
    """A step's schema validator, extractions, and the variables its request uses."""

    validator: expect.SchemaValidator | None
    extracts: tuple[ExtractPlan, ...]
    needs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JourneyPlan:
    """The plans of a spec's steps and finally steps, in order."""

    spec: JourneySpec
    steps: tuple[StepPlan, ...]
    finally_steps: tuple[StepPlan, ...]


def _extract_plan(rule: Extract) -> ExtractPlan:
    if rule.source == "json":
        return ExtractPlan(rule, path=jsonpath.parse(rule.key))
    if rule.source == "regex":
        return ExtractPlan(rule, pattern=re.compile(rule.key))
    if rule.source == "header":
        return ExtractPlan(rule, header_name=rule.key.lower().encode("latin-1"))
    return ExtractPlan(rule)


def needed_names(step: JourneyStep) -> tuple[str, ...]:
    """Every variable the step's request uses, in order of first use."""
    request = step.request
    used = [*template.names(request.url)]
    for _, value in request.headers:
        used += template.names(value)
    if request.body is not None:
        used += template.names(request.body)
    used += template.names_in(step.json_body)
    return tuple(dict.fromkeys(used))


def step_plan(step: JourneyStep) -> StepPlan:
    """The plan of one step (raises ValueError for a path or regex the config checks refuse)."""
    schema = step.request.expect.json_schema
    return StepPlan(
        validator=None if schema is None else expect.schema_validator(schema),
        extracts=tuple(_extract_plan(rule) for rule in step.extract),
        needs=needed_names(step),
    )


def journey_plan(spec: JourneySpec) -> JourneyPlan:
    """The plan of a whole journey."""
    return JourneyPlan(spec, tuple(step_plan(s) for s in spec.steps),
                       tuple(step_plan(s) for s in spec.finally_steps))


@dataclass(slots=True)
class JourneyPlans:
    """Each journey spec's :class:`JourneyPlan`, built on its first run (see the module doc)."""

    _plans: dict[int, JourneyPlan] = field(default_factory=dict)

    def get(self, spec: JourneySpec) -> JourneyPlan:
        """The plan of ``spec``, built now if this spec was never seen."""
        plan = self._plans.get(id(spec))
        if plan is None or plan.spec is not spec:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            plan = self._plans[id(spec)] = journey_plan(spec)
        return plan
