"""Pure checks of an HTTP response against :class:`monitor.config.model.HttpExpect`.

No I/O and no clocks: the http probe reads the response, these functions judge it.
Every check returns ``None`` when the expectation holds, otherwise a
``(reason, message)`` pair whose reason is one of :data:`probes.result.REASONS`.
Messages name what failed (a status, a JSON path, a schema keyword) but never echo the
body or a header value: bodies may carry personal data and tokens.  The one exception is
the value found at a JSON path the configuration names (``"status": "DOWN"``): a field
the author chose to check, shown only when it is a scalar and cut to
:data:`MAX_SHOWN_VALUE_CHARS`, as an on-call engineer needs it to see what went wrong.
Journey steps pass ``show_values=False``: there a response field is as likely to be a
customer's balance or a token as a status, so only the path is named, and a schema
failure names the schema's location, not the document's.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Protocol

from monitor.config.model import HttpExpect
from probes.result import REASON_BODY_MISMATCH, REASON_HTTP_STATUS, REASON_SCHEMA_MISMATCH

Failure = tuple[str, str]

_MISSING: Final = object()
MAX_SHOWN_VALUE_CHARS: Final = 64
# Codecs Python calls text encodings that no HTTP body is written in (see decode_text).
_NOT_CHARSETS: Final = frozenset(("idna", "punycode"))


def status_ok(status: int, expected: Sequence[int]) -> bool:
    """True when ``status`` is in ``expected``, or is 2xx when ``expected`` is empty."""
    if expected:
        return status in expected
    return 200 <= status < 300


def check_status(status: int, expected: Sequence[int]) -> Failure | None:
    """An ``http_status`` failure unless :func:`status_ok`."""
    if status_ok(status, expected):
        return None
    wanted = ", ".join(str(s) for s in expected) if expected else "2xx"
    return REASON_HTTP_STATUS, f"status {status}, expected {wanted}"


def decode_text(body: bytes, charset: str | None) -> str:
    """``body`` as text in its declared charset (UTF-8 when absent, unknown or not text).

    Undecodable bytes become U+FFFD so a hostile body cannot make a regex check raise.
    A codec that is not a text encoding (``base64``, ``zlib``) or is one for host names
    (``idna``, ``punycode``: no ``replace`` handling, and quadratic on a large body) is
    not a charset: the body is read as UTF-8.
    """
    encoding = "utf-8"
    if charset:
        with contextlib.suppress(LookupError):
            info = codecs.lookup(charset)
            if getattr(info, "_is_text_encoding", True) and info.name not in _NOT_CHARSETS:
                encoding = info.name
    try:
        return body.decode(encoding, errors="replace")
    except (LookupError, ValueError):  # a codec that still refuses: UnicodeError included
        return body.decode("utf-8", errors="replace")


def lookup(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` ("data.items.0.state") in a JSON document.

    A segment indexes an object by key, or an array by a non-negative integer.
    Returns a private sentinel (never ``None``, which is a real JSON value) when the
    path does not exist; :func:`check_json_fields` turns that into a failure.
    """
    node = document
    for segment in path.split("."):
        if isinstance(node, Mapping):
            if segment not in node:
                return _MISSING
            node = node[segment]
        elif isinstance(node, list):
            if not segment.isdigit() or int(segment) >= len(node):
                return _MISSING
            node = node[int(segment)]
        else:
            return _MISSING
    return node


def same_json_value(actual: Any, expected: Any) -> bool:
    """Equality as a config author means it: ``1 == 1.0``, but ``true`` is not ``1``.

    Python's ``True == 1`` would let ``{"up": 1}`` pass on ``{"up": true}``.
    """
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return bool(actual == expected)


def check_json_fields(document: Any, fields: Mapping[str, Any], *,
                      show_values: bool = True) -> Failure | None:
    """A ``body_mismatch`` for the first dotted path that is absent or unequal.

    ``show_values=False`` names the path only, never the value found or expected.
    """
    for path, expected in fields.items():
        actual = lookup(document, path)
        if actual is _MISSING:
            return REASON_BODY_MISMATCH, f"json field {path} is missing"
        if not same_json_value(actual, expected):
            if not show_values:
                return REASON_BODY_MISMATCH, f"json field {path} is not the expected value"
            return REASON_BODY_MISMATCH, (f"json field {path} is {shown_json(actual)}, "
                                          f"expected {shown_json(expected)}")
    return None


def shown_json(value: Any) -> str:
    """A scalar as JSON, cut to :data:`MAX_SHOWN_VALUE_CHARS`; a container only by kind."""
    if isinstance(value, Mapping):
        return f"an object ({len(value)} keys)"
    if isinstance(value, list):
        return f"an array ({len(value)} items)"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > MAX_SHOWN_VALUE_CHARS:
        text = text[:MAX_SHOWN_VALUE_CHARS - 1] + "…"
    return text


class SchemaValidator(Protocol):
    """What :func:`check_schema` needs of a jsonschema validator."""

    def iter_errors(self, instance: Any) -> Iterator[Any]: ...


def schema_validator(schema: Mapping[str, Any]) -> SchemaValidator:
    """A validator for ``schema``, built before the probe's clock starts.

    Imported here, on first use: jsonschema costs ~100 ms, and only json_schema targets
    need it; the import must not land inside the first probe's duration.  The schema
    itself is assumed valid: configuration loading checks it once.
    """
    import jsonschema

    validator: SchemaValidator = jsonschema.validators.validator_for(schema)(schema)
    return validator


def check_schema(document: Any, schema: Mapping[str, Any] | SchemaValidator, *,
                 show_values: bool = True) -> Failure | None:
    """A ``schema_mismatch`` naming the best-matching error's location and keyword.

    ``schema`` is a schema or a validator from :func:`schema_validator`.  The location is
    the document's (``$.data.items[0]``); with ``show_values=False`` it is the schema's
    instead (``#/properties/data/required``): a document's keys are response data too (an
    object keyed by account number), the schema's are the configuration's.
    """
    from jsonschema.exceptions import best_match

    validator = schema_validator(schema) if isinstance(schema, Mapping) else schema
    error = best_match(validator.iter_errors(document))
    if error is None:
        return None
    if not show_values:
        return REASON_SCHEMA_MISMATCH, (f"body fails schema keyword {error.validator} at "
                                        f"{schema_pointer(error.absolute_schema_path)}")
    return REASON_SCHEMA_MISMATCH, f"body fails schema at {error.json_path}: {error.validator}"


def schema_pointer(path: Iterable[str | int]) -> str:
    """A schema location as a JSON Pointer fragment (``#/properties/a~1b/type``)."""
    return "#" + "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}"
                         for part in path)


def check_body(body: bytes, charset: str | None, expect: HttpExpect,
               validator: SchemaValidator | None = None, *,
               show_values: bool = True) -> Failure | None:
    """Every body expectation in a fixed order: regex, not-regex, JSON fields, schema.

    ``validator`` is ``expect.json_schema``'s, when the caller built it beforehand;
    ``show_values`` as for :func:`check_json_fields`.

    The body is decoded only when a regex needs text and parsed only when a JSON check
    needs a document, so a target with no body expectations costs nothing here.
    """
    if expect.body_regex is not None or expect.body_not_regex is not None:
        text = decode_text(body, charset)
        if expect.body_regex is not None and re.search(expect.body_regex, text) is None:
            return REASON_BODY_MISMATCH, "body does not match body_regex"
        if expect.body_not_regex is not None and re.search(expect.body_not_regex, text):
            return REASON_BODY_MISMATCH, "body matches body_not_regex"
    if not expect.json and expect.json_schema is None:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        reason = REASON_BODY_MISMATCH if expect.json else REASON_SCHEMA_MISMATCH
        return reason, "body is not valid JSON"
    if expect.json:
        failed = check_json_fields(document, expect.json, show_values=show_values)
        if failed is not None:
            return failed
    if expect.json_schema is not None:
        return check_schema(document, validator or expect.json_schema,
                            show_values=show_values)
    return None
