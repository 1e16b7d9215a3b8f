"""``omniwatch probe URL``: the URL and its flags as a config ``targets:`` entry, checked by
the config's own rules (:mod:`monitor.config.adhoc`), so a flag is refused exactly as the
same value in a file would be, and named by its flag."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.cli.common import UsageError
from monitor.config.model import DnsSpec, Target
from monitor.config.values import PathT, duration_text
from monitor.redact import netloc_without_userinfo, without_userinfo

# Where each flag writes in a target entry; a problem is reported under the flag of the
# longest path that holds it.  URL parts (url, host, port) are the URL's.
FLAG_PATHS: dict[PathT, str] = {
    ("timeout",): "--timeout", ("confirm",): "--confirm", ("method",): "--method",
    ("body",): "--body", ("headers",): "--header", ("send",): "--send",
    ("follow_redirects",): "--no-follow", ("tls",): "--insecure/--ca-file",
    ("tls", "insecure_skip_verify"): "--insecure", ("tls", "ca_file"): "--ca-file",
    ("expect", "status"): "--expect-status", ("expect", "body_regex"): "--expect-body",
    ("expect", "regex"): "--expect-body", ("expect", "json"): "--expect-json",
    ("expect", "latency"): "--latency", ("expect", "min_valid"): "--min-valid",
}


def flag_of(path: PathT) -> str:
    """The command-line flag that set the value at ``path`` of the ad-hoc target."""
    for n in range(len(path), 0, -1):
        if path[:n] in FLAG_PATHS:
            return FLAG_PATHS[path[:n]]
    return "URL"


def adhoc_entry(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The ``targets:`` entry the URL and flags describe, written as a config file would."""
    parts = urlsplit(url)
    # Named after the build (see adhoc_target): a URL is no valid target name.
    entry: dict[str, Any] = {"name": "adhoc", "timeout": duration_text(args.timeout)}
    expect: dict[str, Any] = {}
    if args.latency is not None:
        expect["latency"] = duration_text(args.latency)
    if args.confirm:
        entry["confirm"] = args.confirm
    tls: dict[str, Any] = {}
    if args.insecure:
        tls["insecure_skip_verify"] = True
    if args.ca_file is not None:
        tls["ca_file"] = args.ca_file
    # Every flag given is written, also where it does not apply: the check says so.
    optional = {"method": args.method, "body": args.body, "send": args.send}
    entry.update({k: v for k, v in optional.items() if v is not None})
    if args.no_follow:
        entry["follow_redirects"] = False
    if args.header:
        entry["headers"] = dict(_header(h) for h in args.header)
    if args.expect_status:
        expect["status"] = args.expect_status
    if args.expect_json:
        expect["json"] = dict(_json_field(kv) for kv in args.expect_json)
    if parts.scheme in ("http", "https"):
        entry.update(probe="http", url=url)
        if args.expect_body is not None:
            expect["body_regex"] = args.expect_body
        if tls:
            entry["tls"] = tls
    elif parts.scheme in ("tcp", "tcps", "tls"):
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise UsageError(f"{url!r}: expected {parts.scheme}://host:port")
        entry.update(probe="tls" if parts.scheme == "tls" else "tcp", host=parts.hostname,
                     port=port)
        if args.expect_body is not None:
            expect["regex"] = args.expect_body
        if parts.scheme == "tcp" and tls:
            raise UsageError("--insecure/--ca-file: tcp:// does not use TLS (use tcps://)")
        if parts.scheme != "tcp":
            entry["tls"] = tls if tls or parts.scheme == "tls" else True
    elif parts.scheme == "dns":
        entry.update(dns_entry(url))
        if args.expect_body is not None:
            expect["body_regex"] = args.expect_body  # refused below: not a dns expectation
        if tls:
            entry["tls"] = tls
    else:
        raise UsageError(f"{without_userinfo(url)!r}: use http(s)://host/path, tcp://host:port, "
                         "tcps://host:port, tls://host:port or dns://[server[:port]]/name")
    if args.min_valid is not None:
        if parts.scheme not in TLS_SCHEMES:
            raise UsageError(f"--min-valid: needs a TLS target ({', '.join(TLS_SCHEMES)}://), "
                             f"not {parts.scheme}://")
        if parts.scheme == "tls":  # the tls probe checks it itself, as in a config
            expect["min_valid"] = duration_text(args.min_valid)
    if expect:
        entry["expect"] = expect
    return entry


def _header(h: str) -> tuple[str, str]:
    k, sep, v = h.partition(":")
    if not sep:
        raise UsageError(f"--header {h!r}: expected 'Name: value'")
    return k.strip(), v.strip()


def _json_field(kv: str) -> tuple[str, object]:
    k, sep, v = kv.partition("=")
    if not sep:
        raise UsageError(f"--expect-json {kv!r}: expected path=value")
    try:
        return k, json.loads(v)
    except json.JSONDecodeError:
        return k, v


def adhoc_target(url: str, args: argparse.Namespace) -> Target:
    """A :class:`Target` for an ad-hoc ``http(s)://``, ``tcp(s)://``, ``tls://`` or
    ``dns://`` address, its flags checked by the config's own rules
    (:mod:`monitor.config.adhoc`)."""
    from monitor.config.adhoc import build_adhoc

    entry = adhoc_entry(url, args)
    target, problems = build_adhoc(entry)
    if target is None:
        raise UsageError(*[
            f"{flag_of(path)}: does not apply to a {entry['probe']} probe" if msg == "unknown"
            else f"{flag_of(path)}: {msg}" for path, msg in problems])
    # The name is shown (TARGET column, messages, --json): never with its user-info.
    name = netloc_without_userinfo(url) or without_userinfo(url)
    if isinstance(target.spec, DnsSpec):  # the question, not only the server, names it
        server = "system" if target.spec.server is None else name
        name = f"{server}/{target.spec.query_name}/{target.spec.record_type}"
    return replace(target, name=name, interval_seconds=max(target.timeout_seconds, 1.0))


TLS_SCHEMES = ("https", "tcps", "tls")
_DNS_PARAMS = ("type", "transport")


def dns_entry(url: str) -> dict[str, Any]:
    """The dns target keys of ``dns://server[:port]/name?type=A&transport=udp``.

    Without a server (``dns:///name``) the system resolver answers, as a ``dns`` target
    without ``server`` does.  ``type`` defaults to A, ``transport`` to udp; the config's
    schema checks both, as it checks them in a file.
    """
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or "/" in name:
        raise UsageError(f"{without_userinfo(url)!r}: expected dns://[server[:port]]/name"
                         "[?type=A]")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - set(_DNS_PARAMS))
    if unknown:
        raise UsageError(f"{without_userinfo(url)!r}: unknown parameter {unknown[0]!r} "
                         f"(known: {', '.join(_DNS_PARAMS)})")
    values = {k: v[-1] for k, v in query.items()}
    entry: dict[str, Any] = {"probe": "dns", "query": name,
                             "record_type": values.get("type", "A").upper(),
                             "transport": values.get("transport", "udp").lower()}
    if parts.hostname:
        try:
            entry.update(server=parts.hostname, port=parts.port or 53)
        except ValueError:  # a port that is not a number, or above 65535
            raise UsageError(f"{without_userinfo(url)!r}: invalid port") from None
    return entry
