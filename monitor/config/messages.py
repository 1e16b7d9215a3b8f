"""Plain-words messages for the shape errors the configuration JSON Schema finds.

jsonschema's own messages name regular expressions and schema keywords; a person editing
``omniwatch.yaml`` wants "'ftp://x' is not an http(s) URL".  Each error is turned into a
message in one of two ways:

* :data:`MESSAGES`, keyed by the *schema location* of the failing keyword
  (``#/$defs/duration/oneOf``), for the checks whose meaning a keyword cannot tell —
  every ``pattern`` and ``oneOf`` in the schema has an entry (a test enforces it);
* otherwise a generic sentence per keyword (``type``, ``enum``, ``required``, …).

Pure functions over a ``jsonschema.ValidationError``; no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from monitor.config.values import TIMESTAMP_HINT, PathT, show
from monitor.redact import without_userinfo

if TYPE_CHECKING:
    from jsonschema import ValidationError

_ONE_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")

# Templates may use {value} (the offending value, as the file shows it) and {allowed}
# (the choices of an ``enum``).
MESSAGES: dict[str, str] = {
    "#/$defs/duration/oneOf": "{value} is not a duration (use e.g. 500ms, 30s, 5m, 1h30m, 7d)",
    "#/$defs/objective/oneOf": "{value} is not an objective (use e.g. 99.9% or 0.999)",
    "#/$defs/http/properties/url/pattern": "{value} is not an http(s) URL",
    "#/$defs/probe_kind/enum": "{value} is not a probe kind (use one of: {allowed})",
    "#/$defs/port/minimum": "{value} is not a port number (use 1-65535)",
    "#/$defs/port/maximum": "{value} is not a port number (use 1-65535)",
    "#/$defs/host/pattern": (
        "{value} is not a host name or IP address (give the host alone, without scheme or port)"
    ),
    "#/$defs/clock/pattern": '{value} is not a time of day (use HH:MM, e.g. "09:00")',
    "#/$defs/service_hours/properties/days/pattern": (
        "{value} is not a set of days (use e.g. mon-fri, mon-sat or mon,wed,fri)"
    ),
    "#/$defs/channels/propertyNames/pattern": (
        "{value} is not a valid channel name (use lower-case letters, digits, '-' and '_', "
        "starting with a letter)"
    ),
    "#/$defs/target_common/properties/name/pattern": (
        "{value} is not a valid target name (use letters, digits, '.', '_', ':' and '-', "
        "starting with a letter or digit, at most 128 characters)"
    ),
    "#/$defs/http/properties/headers/propertyNames/pattern": (
        "{value} is not a valid HTTP header name"
    ),
    "#/$defs/http/properties/headers/additionalProperties/pattern": (
        "a header value cannot contain line breaks"
    ),
    "#/$defs/dns/properties/query/pattern": "{value} is not a DNS name (it contains spaces)",
    "#/$defs/server/properties/listen/pattern": (
        "{value} is not a listen address (use host:port, e.g. 127.0.0.1:9470 or [::1]:9470)"
    ),
    # The value may hold a password, so it is not repeated.
    "#/$defs/store/properties/postgres/pattern": (
        "not a PostgreSQL connection string (use postgresql://user@host:5432/db "
        "or key=value pairs)"
    ),
    "#/$defs/store/not": "choose one store, not both: sqlite or postgres",
    "#/$defs/maintenance/oneOf": (
        "a maintenance window needs either start and end (one-off) or cron and duration "
        "(recurring), not both"
    ),
    "#/$defs/timestamp/pattern": "{value} is not a date and time (" + TIMESTAMP_HINT + ")",
    "#/$defs/label_name/pattern": (
        "{value} is not a label name (use letters, digits and '_', not starting with a digit)"
    ),
    "#/$defs/labels/additionalProperties/type": "must be a string, got {value} (quote it)",
    "#/$defs/match/additionalProperties/type": "must be a string, got {value} (quote it)",
    "#/$defs/inhibit_side/additionalProperties/type": "must be a string, got {value} (quote it)",
    "#/$defs/alert_url/pattern": "{value} is not an http(s) URL",
    # A Slack incoming-webhook URL is the credential itself: never repeated.
    "#/$defs/secret_url/pattern": "is not an http(s) URL (the value is not shown: it is a secret)",
    "#/$defs/share/oneOf": "{value} is not a share (use e.g. 50% or 0.5)",
    "#/$defs/route/properties/name/pattern": (
        "{value} is not a valid route name (use letters, digits, '.', '_', ':' and '-', "
        "starting with a letter or digit, at most 64 characters)"
    ),
    "#/$defs/slack/anyOf": "needs token and channel (bot mode) or webhook_url (incoming webhook)",
    "#/$defs/slack/not": (
        "choose one Slack mode: token and channel (bot) or webhook_url (incoming webhook), "
        "not both"
    ),
    "#/$defs/variable_name/pattern": (
        "{value} is not a variable name (use letters, digits and '_', not starting with a "
        "digit)"
    ),
    "#/$defs/step_name/pattern": (
        "{value} is not a valid step name (use letters, digits, '.', '_', ':' and '-', "
        "starting with a letter or digit, at most 64 characters)"
    ),
    "#/$defs/template_url/pattern": (
        "{value} is not an http(s) URL (placeholders are written {{{{ name }}}})"
    ),
    "#/$defs/journey_request/not": "choose one of body or json, not both",
    "#/$defs/browser_step/properties/wait_for/oneOf": (
        "{value} is neither a selector nor {{text: ...}}"
    ),
    "#/$defs/date/pattern": (
        "{value} is not a date (use YYYY-MM-DD, e.g. 2027-03-01, or an ISO 8601 date and "
        "time)"
    ),
    "#/$defs/reduction/oneOf": "{value} is not a reduction (use e.g. 30% or 0.3)",
    "#/$defs/route_slack/not": (
        "choose one Slack mode: token and channel (bot) or webhook_url (incoming webhook), "
        "not both"
    ),
}

# Keys whose values are credentials: a message names their kind, never their text (not
# even a wrongly typed one: `token: 12345` may still be the token).
# A journey's or browser check's ``vars`` and a browser ``fill`` step's ``value`` are
# customer-like test credentials.
SECRET_KEYS = frozenset({"token", "webhook_url", "secret", "api_token", "vars", "value"})

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}


def _walk(node: Any, pointer: str) -> Iterator[tuple[int, str]]:
    if isinstance(node, dict):
        yield id(node), pointer
        for key, child in node.items():
            yield from _walk(child, f"{pointer}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _walk(child, f"{pointer}/{i}")


def schema_locations(schema: Mapping[str, Any]) -> dict[int, str]:
    """Every sub-schema of ``schema`` by identity → its JSON pointer (``#/$defs/port``)."""
    return dict(_walk(schema, "#"))


def location(error: ValidationError, locations: Mapping[int, str]) -> str:
    """The schema location of the keyword that failed: ``#/$defs/duration/oneOf``.

    ``locations`` is :func:`schema_locations` of the schema that produced ``error``.
    """
    return f"{locations.get(id(error.schema), '#?')}/{error.validator}"


def _unknown_key(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    return f"unknown key {key!r} (allowed here: {', '.join(allowed)})"


def explain(
    error: ValidationError, where: str, originals: Mapping[PathT, str]
) -> list[tuple[PathT, str]]:
    """``(path, message)`` pairs for one schema error found at schema location ``where``.

    ``originals`` holds the text as written for strings that had ``${VAR}`` substituted, so
    a message never repeats a secret taken from the environment.
    """
    path: PathT = tuple(error.absolute_path)
    value: Any = error.instance
    spec: Any = error.validator_value
    kind = str(error.validator)
    schema: Any = error.schema
    named = "propertyNames" in error.relative_schema_path
    if named:
        path = (*path, str(value))
    # A refused key is a name, not a value: `vars: {9lives: ...}` may say "'9lives'".
    secret = is_secret(path, value) and not named
    shown = repr(originals[path]) if path in originals else show(value)
    if secret:
        shown = _hidden(value, originals.get(path))
    elif (path and str(path[-1]).endswith("url") and isinstance(value, str)
          and path not in originals):
        shown = show(without_userinfo(value))  # user-info is a credential
    template = MESSAGES.get(where)
    if template is not None:
        allowed = ", ".join(str(v) for v in spec) if kind == "enum" else ""
        return [(path, template.format(value=shown, allowed=allowed))]
    if kind == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        return [(path, _unknown_key(str(k), known)) for k in value if k not in known]
    if kind == "required":
        return [(path, f"missing required key {k!r}") for k in spec if k not in value]
    if kind == "dependentRequired":
        return [
            (path, f"{dep!r} is required when {key!r} is set")
            for key, deps in spec.items() if key in value
            for dep in deps if dep not in value
        ]
    # jsonschema's own wording quotes the value: not for a secret.
    fallback = f"{shown} is not valid here" if secret else error.message
    return [(path, _generic(kind, spec, value, shown) or fallback)]


def is_secret(path: PathT, value: Any) -> bool:
    """Whether the value at ``path`` is (or may be) a credential, never to be shown."""
    if any(str(p) in SECRET_KEYS for p in path):
        return True
    # `slack: xoxb-...` or `webhook: https://...?token=...` given where a mapping belongs.
    return (isinstance(value, str) and len(path) >= 2 and path[0] == "alerts"
            and path[-1] in ("slack", "webhook"))


def _hidden(value: Any, original: str | None) -> str:
    if original is not None and _ONE_REFERENCE.fullmatch(original):
        return repr(original)  # "${SLACK_BOT_TOKEN}" names the variable, not the secret
    if isinstance(value, str):
        return "a string (not shown: it is a secret)"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number (not shown: it is a secret)"
    return show(value)


def keyword_message(where: str, kind: str, spec: Any, value: Any) -> str:
    """What :func:`explain` says when keyword ``kind`` (schema value ``spec``) at schema
    location ``where`` refuses a plain ``value``: for checks made without jsonschema
    (:mod:`monitor.config.adhoc`), worded as the config file's."""
    template = MESSAGES.get(where)
    if template is not None:
        allowed = ", ".join(str(v) for v in spec) if kind == "enum" else ""
        return template.format(value=show(value), allowed=allowed)
    return _generic(kind, spec, value, show(value)) or f"{show(value)} is not valid here"


def _generic(kind: str, spec: Any, value: Any, shown: str) -> str | None:
    if kind == "type":
        types = spec if isinstance(spec, list) else [spec]
        return f"expected {', or '.join(_TYPE_WORDS[t] for t in types)}, got {shown}"
    if kind == "enum":
        return f"{shown} is not one of: {', '.join(str(v) for v in spec)}"
    bounds = {
        "minimum": f"is too small (the minimum is {spec})",
        "exclusiveMinimum": f"is too small (it must be more than {spec})",
        "maximum": f"is too large (the maximum is {spec})",
        "exclusiveMaximum": f"is too large (it must be less than {spec})",
    }
    if kind in bounds:
        return f"{shown} {bounds[kind]}"
    if kind in ("minLength", "minItems", "minProperties") and spec == 1:
        return "must not be empty"
    if kind == "uniqueItems":
        dup = next(v for i, v in enumerate(value) if v in value[:i])
        return f"lists {show(dup)} more than once"
    if kind == "pattern":
        return f"{shown} does not match the pattern {spec}"
    return None
