"""One builder per probe kind: a target entry's ``http``, ``tcp``, ``dns`` or ``tls`` shape
becomes its typed spec, with the cross-field checks of that kind (``journey`` and
``browser`` are :mod:`monitor.config.build_journeys`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.config.build_values import ValueChecks
from monitor.config.model import (
    DEFAULT_MAX_BODY_BYTES,
    DnsSpec,
    HttpExpect,
    HttpSpec,
    TcpSpec,
    TlsSpec,
)
from monitor.config.values import (
    PathT,
)


class ProbeSpecs(ValueChecks):
    """The per-kind spec builders; :class:`~monitor.config.build.Builder` adds the sections."""

    def http(self, raw: Mapping[str, Any], path: PathT) -> HttpSpec:
        return self.http_request(raw, path, raw.get("expect", {}), (*path, "expect"))

    def http_request(self, raw: Mapping[str, Any], path: PathT, exp: Mapping[str, Any],
                     epath: PathT) -> HttpSpec:
        """An http target's request keys ``raw`` at ``path`` and expectations ``exp`` at
        ``epath``: apart in a journey step (``request:`` and ``expect:``), together in a
        target.  A journey's ``json`` counts as a body (it is kept by the caller)."""
        sent = [key for key in ("body", "json") if key in raw]
        method = raw.get("method", "POST" if sent else "GET")
        for key in sent:
            if method in ("GET", "HEAD"):
                self.problem((*path, key), f"a {method} request sends no body; use POST, "
                             f"PUT or PATCH, or remove {key}")
        if method == "HEAD":
            for key in ("body_regex", "body_not_regex", "json", "json_schema"):
                if key in exp:
                    self.problem((*epath, key), "a HEAD response has no body to check")
        if raw.get("follow_redirects") is False and "max_redirects" in raw:
            self.problem((*path, "max_redirects"), "has no effect when follow_redirects is false")
        headers: dict[str, str] = {}
        for key in raw.get("headers", {}):
            if key.lower() in headers:
                self.problem((*path, "headers", key), f"duplicate header {key!r} (header names "
                             f"ignore case; {headers[key.lower()]!r} is the same header)")
            headers.setdefault(key.lower(), key)
        schema = exp.get("json_schema")
        if schema is not None:
            self.json_schema(schema, (*epath, "json_schema"))
        return HttpSpec(
            url=raw["url"],
            method=method,
            headers=tuple(raw.get("headers", {}).items()),
            body=raw.get("body"),
            follow_redirects=raw.get("follow_redirects", True),
            max_redirects=int(raw.get("max_redirects", 10)),
            max_body_bytes=int(raw.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)),
            tls=self.tls_client(raw.get("tls", {}), (*path, "tls")),
            expect=HttpExpect(
                status=tuple(exp.get("status", ())),
                body_regex=self.regex(exp.get("body_regex"), (*epath, "body_regex")),
                body_not_regex=self.regex(exp.get("body_not_regex"), (*epath, "body_not_regex")),
                json=exp.get("json", {}),
                json_schema=schema,
                latency_seconds=None if exp.get("latency") is None else self.duration(
                    exp["latency"], (*epath, "latency"), 0.0),
            ),
        )

    def json_schema(self, schema: Mapping[str, Any], path: PathT) -> None:
        import jsonschema  # already loaded by the loader's shape check; imported late with it

        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        for error in cls(cls.META_SCHEMA).iter_errors(schema):
            while error.context:  # the most specific reason, not "not valid under any of ..."
                error = jsonschema.exceptions.best_match(error.context) or error.context[0]
            self.problem((*path, *error.absolute_path), f"not a valid JSON Schema: {error.message}")

    def tcp(self, raw: Mapping[str, Any], path: PathT) -> TcpSpec:
        exp, tls = raw.get("expect", {}), raw.get("tls", False)
        return TcpSpec(
            host=raw["host"],
            port=int(raw["port"]),
            tls=tls is not False,
            tls_config=self.tls_client(tls if isinstance(tls, dict) else {}, (*path, "tls")),
            send=raw.get("send"),
            expect_regex=self.regex(exp.get("regex"), (*path, "expect", "regex")),
            latency_seconds=self.latency(exp, path),
        )

    def dns(self, raw: Mapping[str, Any], path: PathT) -> DnsSpec:
        exp = raw.get("expect", {})
        answers = exp.get("answers", [])
        for i, answer in enumerate(answers):
            # An entry is a record's exact text, or a regular expression after a "~".
            if answer.startswith("~"):
                self.regex(answer[1:], (*path, "expect", "answers", i))
        return DnsSpec(
            query_name=raw["query"],
            record_type=raw.get("record_type", "A"),
            server=raw.get("server"),
            port=int(raw.get("port", 53)),
            transport=raw.get("transport", "udp"),
            expect_rcode=exp.get("rcode", "NOERROR"),
            expect_answers=tuple(answers),
            latency_seconds=self.latency(exp, path),
        )

    def tls(self, raw: Mapping[str, Any], path: PathT) -> TlsSpec:
        exp = raw.get("expect", {})
        return TlsSpec(
            host=raw["host"],
            port=int(raw.get("port", 443)),
            tls_config=self.tls_client(raw.get("tls", {}), (*path, "tls")),
            min_valid_seconds=self.duration(exp.get("min_valid"), (*path, "expect", "min_valid"),
                                            0.0),
            latency_seconds=self.latency(exp, path),
        )
