"""The config layer: one fixture per invalid config with its exact messages, typed values of
the valid ones, and the pure value parsers.

Adding ``tests/config/testdata/invalid-<what>.yml`` with its ``.err`` adds a test.  Fixtures
are loaded by a path relative to ``tests/config/testdata`` so the file name in messages is
stable.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config import (
    ConfigError,
    config_schema,
    format_duration,
    format_path,
    load_config,
    parse_config,
    parse_duration,
    parse_objective,
)
from monitor.config.messages import MESSAGES
from monitor.config.model import Config, HttpSpec, TcpSpec, TlsSpec
from monitor.config.values import DURATION_PATTERN, TOP_LEVEL

FIXTURES = Path(__file__).parent / "testdata"
EXAMPLE = Path(__file__).parents[2] / "omniwatch.example.yaml"
ENV = {
    "APP_PROBE_TOKEN": "s3cret-token",
    "MINI_CLIENT_KEY": "k3y",
    "OMNIWATCH_PG_DSN": "postgresql://monitor@db.example/omniwatch",
    "BRANCH_DSN": "postgresql://monitor@core.example/bank",
    "APP_DSN": "mysql://monitor:pw@app-db.example:3306/app",
    "SLACK_BOT_TOKEN": "xoxb-bot-token",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/hook-token",
    "WEBHOOK_SECRET": "webhook-signing-secret",
    "OMNIWATCH_API_TOKEN": "api-token",
    "JOURNEY_USER": "test-customer",
    "JOURNEY_PASSWORD": "journey-pw",
    "WEB_USER": "web-test-customer",
    "WEB_PASSWORD": "web-pw",
    "BRANCH_DEVICE_TOKEN": "device-token",
}


def _names(pattern: str) -> list[str]:
    return sorted(p.name for p in FIXTURES.glob(pattern))


@pytest.fixture
def in_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)


def load(name: str) -> Config:
    return load_config(name, env=ENV)


# -- fixtures ---------------------------------------------------------------------------


@pytest.mark.usefixtures("in_fixtures")
@pytest.mark.parametrize("name", _names("invalid-*.yml"))
def test_invalid_fixture_reports_exactly_its_errors(name: str) -> None:
    expected = (FIXTURES / f"{name}.err").read_text("utf-8").splitlines()
    with pytest.raises(ConfigError) as info:
        load(name)
    assert str(info.value).splitlines() == expected
    assert [str(p) for p in info.value.problems] == expected


def test_every_invalid_fixture_has_its_expected_errors_and_vice_versa() -> None:
    assert _names("invalid-*.yml.err") == [f"{n}.err" for n in _names("invalid-*.yml")]


def test_there_are_fixtures() -> None:
    assert len(_names("invalid-*.yml")) >= 25
    assert len(_names("valid-*.yml")) >= 10


@pytest.mark.usefixtures("in_fixtures")
@pytest.mark.parametrize("name", _names("valid-*.yml"))
def test_valid_fixture_loads(name: str) -> None:
    assert load(name).source == name


def test_example_file_validates() -> None:
    config = load_config(EXAMPLE, env=ENV)
    assert {c.name for c in config.channels} == {"app", "website", "miniprogram", "branch"}
    assert {t.kind for t in config.targets} == {"http", "tcp", "dns", "tls", "journey",
                                                "browser"}
    assert [o.target for o in config.journeys.objectives] == ["mini-account-opening",
                                                              "app-transfer"]
    app_api = config.target("app-api-health")
    assert app_api is not None
    assert isinstance(app_api.spec, HttpSpec)
    assert ("Authorization", "Bearer s3cret-token") in app_api.spec.headers
    assert [c.dataset for c in config.consistency] == ["customers"]
    assert config.consistency[0].channels == ("app", "miniprogram")
    assert [m.name for m in config.maintenance] == ["core-banking-upgrade", "weekly-app-release"]
    assert [r.name for r in config.alerts.receivers] == [
        "branch/slack", "pages/slack", "default/slack"]
    gateway = config.target("branch-core-gateway")
    assert gateway is not None
    assert gateway.labels == (("severity", "page"),)
    assert config.server.api_token == "api-token"


def test_example_file_names_its_missing_secrets() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(EXAMPLE, env={})
    missing = {p.message for p in info.value.problems}
    assert missing == {
        "environment variable APP_PROBE_TOKEN is not set",
        "environment variable MINI_CLIENT_KEY is not set",
        "environment variable BRANCH_DSN is not set",
        "environment variable APP_DSN is not set",
        "environment variable OMNIWATCH_API_TOKEN is not set",
        "environment variable SLACK_BOT_TOKEN is not set",
        "environment variable JOURNEY_USER is not set",
        "environment variable JOURNEY_PASSWORD is not set",
        "environment variable WEB_USER is not set",
        "environment variable WEB_PASSWORD is not set",
        "environment variable BRANCH_DEVICE_TOKEN is not set",
    }


# -- typed values of the valid fixtures ------------------------------------------------


def test_a_section_alone_is_the_embedded_defaults_for_the_rest(tmp_path: Path) -> None:
    cfg = tmp_path / "omniwatch.yml"
    cfg.write_text("channels: {}\n")
    config = load_config(cfg)
    assert config == Config(store=config.store, browser=config.browser, source=str(cfg))
    assert config.targets == ()
    assert config.store.sqlite_path == str(tmp_path / "omniwatch.db")
    assert config.browser.screenshot_dir == str(tmp_path / "screenshots")


@pytest.mark.usefixtures("in_fixtures")
def test_minimal_http_target_gets_defaults() -> None:
    (target,) = load("valid-minimal.yml").targets
    assert (target.channel, target.kind, target.interval_seconds, target.timeout_seconds) == (
        "app", "http", 30.0, 5.0)
    assert target.confirm == 0
    assert isinstance(target.spec, HttpSpec)
    assert target.spec.method == "GET"
    assert target.spec.expect.status == ()
    assert target.latency_threshold_seconds is None


@pytest.mark.usefixtures("in_fixtures")
def test_durations() -> None:
    config = load("valid-durations.yml")
    slow, fast, weekly = config.targets
    assert (slow.interval_seconds, slow.timeout_seconds) == (5400.0, 90.0)
    assert slow.latency_threshold_seconds == 1.5
    assert (fast.interval_seconds, fast.timeout_seconds) == (45.0, 0.5)
    assert fast.latency_threshold_seconds == 0.25
    assert weekly.interval_seconds == 7 * 86400.0
    assert isinstance(weekly.spec, TlsSpec)
    assert weekly.spec.min_valid_seconds == 14 * 86400.0
    assert config.slo.window_seconds == 7 * 86400.0


@pytest.mark.usefixtures("in_fixtures")
@pytest.mark.parametrize("name", ["valid-objective-percent.yml", "valid-objective-ratio.yml"])
def test_objective_spellings_agree(name: str) -> None:
    assert load(name).slo.objective == 0.999


@pytest.mark.usefixtures("in_fixtures")
def test_defaults_are_inherited_and_overridden() -> None:
    inherits, overrides = load("valid-defaults.yml").targets
    assert (inherits.interval_seconds, inherits.timeout_seconds, inherits.confirm) == (
        60.0, 10.0, 2)
    assert (overrides.interval_seconds, overrides.timeout_seconds, overrides.confirm) == (
        15.0, 3.0, 0)


@pytest.mark.usefixtures("in_fixtures")
def test_env_substitution_and_escapes() -> None:
    config = load("valid-env.yml")
    assert config.store.postgres_dsn == ENV["OMNIWATCH_PG_DSN"]
    assert config.store.sqlite_path is None
    (target,) = config.targets
    assert isinstance(target.spec, HttpSpec)
    assert dict(target.spec.headers) == {
        "Authorization": "Bearer s3cret-token",
        "X-Price": "$5 and ${NOT_A_VAR}",
    }
    assert target.spec.expect.body_regex == "^OK$"


def test_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIWATCH_TEST_DSN", "postgresql://db.example/x")
    config = parse_config('store: {postgres: "${OMNIWATCH_TEST_DSN}"}')
    assert config.store.postgres_dsn == "postgresql://db.example/x"


def test_substituted_secrets_never_appear_in_messages() -> None:
    text = 'channels: {app: {targets: [{name: a, probe: http, url: "${URL}"}]}}'
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="c.yml", env={"URL": "ftp://user:hunter2@x"})
    assert str(info.value) == "c.yml: channels.app.targets[0].url: '${URL}' is not an http(s) URL"


@pytest.mark.usefixtures("in_fixtures")
def test_tcp_tls_true_versus_mapping() -> None:
    targets = {t.name: t.spec for t in load("valid-tcp.yml").targets}
    assert all(isinstance(s, TcpSpec) for s in targets.values())
    plain, on, off, mapped = (targets[n] for n in ("plain", "tls-true", "tls-false", "tls-map"))
    assert isinstance(plain, TcpSpec)
    assert not plain.tls
    assert isinstance(on, TcpSpec)
    assert on.tls
    assert on.tls_config.ca_file is None
    assert isinstance(off, TcpSpec)
    assert not off.tls
    assert isinstance(mapped, TcpSpec)
    assert mapped.tls
    assert mapped.host == "2001:db8::1"
    assert mapped.tls_config.server_name == "gw.example"
    assert mapped.tls_config.ca_file == str(FIXTURES / "certs" / "ca.pem")
    banner, exchange = targets["banner"], targets["exchange"]
    assert isinstance(banner, TcpSpec)
    assert (banner.send, banner.expect_regex) == (None, "^220 ")
    assert isinstance(exchange, TcpSpec)
    assert exchange.send == "PING\r\n"


@pytest.mark.usefixtures("in_fixtures")
def test_method_defaults_to_post_when_a_body_is_given() -> None:
    methods = {t.name: t.spec.method for t in load("valid-http-body.yml").targets
               if isinstance(t.spec, HttpSpec)}
    assert methods == {"post-by-default": "POST", "put": "PUT", "head": "HEAD"}


@pytest.mark.usefixtures("in_fixtures")
def test_tls_files_are_resolved_against_the_config_directory() -> None:
    mtls, cert = load("valid-tls-files.yml").targets
    assert isinstance(mtls.spec, HttpSpec)
    tls = mtls.spec.tls
    assert (tls.ca_file, tls.cert_file, tls.key_file) == tuple(
        str(FIXTURES / "certs" / f) for f in ("ca.pem", "client.pem", "client-key.pem"))
    assert tls.server_name == "api.example"
    assert isinstance(cert.spec, TlsSpec)
    assert cert.spec.tls_config.insecure_skip_verify
    assert cert.spec.port == 443


@pytest.mark.usefixtures("in_fixtures")
def test_service_hours() -> None:
    branch, weekend = load("valid-service-hours.yml").channels
    assert branch.service_hours is not None
    assert weekend.service_hours is not None
    # Unquoted 09:00 and 17:00 stay text (no YAML 1.1 base-60 numbers).
    assert (branch.service_hours.start, branch.service_hours.end) == ("09:00", "17:00")
    assert branch.service_hours.days == frozenset(range(6))
    assert branch.service_hours.tz == "Asia/Shanghai"
    assert weekend.service_hours.days == frozenset({4, 5, 6, 0, 2})  # fri-mon wraps
    assert weekend.service_hours.tz == "UTC"


@pytest.mark.usefixtures("in_fixtures")
def test_store_listen_and_scheduler() -> None:
    config = load("valid-store-listen.yml")
    assert config.store.sqlite_path == ":memory:"
    assert (config.server.host, config.server.port) == ("::1", 9470)
    assert config.scheduler.max_concurrency == 64


@pytest.mark.usefixtures("in_fixtures")
def test_yaml_anchors_and_merge_keys() -> None:
    _a, b = load("valid-yaml-anchors.yml").targets
    assert isinstance(b.spec, HttpSpec)
    assert (b.name, b.interval_seconds, b.spec.url) == ("b", 60.0, "https://b.example")
    assert b.spec.headers == (("X-Probe", "omniwatch"),)


@pytest.mark.usefixtures("in_fixtures")
def test_json_contract_keeps_its_draft() -> None:
    (target,) = load("valid-json-contract.yml").targets
    assert isinstance(target.spec, HttpSpec)
    assert target.spec.expect.json == {"status": "UP"}
    assert target.spec.expect.json_schema is not None
    assert target.spec.expect.json_schema["required"] == ["status"]


# -- files that cannot be read -----------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yml")
    assert str(info.value) == f"{tmp_path / 'nope.yml'}: cannot read: No such file or directory"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value) == f"{tmp_path}: cannot read: Is a directory"


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yml"
    path.write_bytes(b"\xef\xbb\xbfslo: {objective: 99%}\n")
    assert load_config(path).slo.objective == 0.99


def test_parse_config_without_a_file_name() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[]")
    assert str(info.value) == (
        "<string>: (top level): expected a mapping of sections (channels, store, ...), got a list"
    )


# -- the schema and its messages ---------------------------------------------------------


def _keywords(node: object, pointer: str = "#") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, child in node.items():
            yield f"{pointer}/{key}", key
            yield from _keywords(child, f"{pointer}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _keywords(child, f"{pointer}/{i}")


def test_every_pattern_and_one_of_has_a_plain_message() -> None:
    # Branches of a oneOf are reported by the oneOf itself.
    needing = {
        loc for loc, key in _keywords(config_schema())
        if key in ("pattern", "oneOf", "anyOf") and "/oneOf/" not in loc
        and "/properties/pattern" not in loc
    }
    assert needing - MESSAGES.keys() == set()


def test_every_message_is_for_a_real_schema_location() -> None:
    locations = {loc for loc, _ in _keywords(config_schema())}
    assert MESSAGES.keys() - locations == set()


def test_duration_pattern_is_the_schemas() -> None:
    assert config_schema()["$defs"]["duration"]["oneOf"][0]["pattern"] == DURATION_PATTERN


def test_every_object_rejects_unknown_keys() -> None:
    def objects(node: object) -> Iterator[dict[str, object]]:
        if isinstance(node, dict):
            if "properties" in node and isinstance(node["properties"], dict) and (
                    node.get("type") == "object" or "additionalProperties" in node):
                yield node
            for child in node.values():
                yield from objects(child)
        elif isinstance(node, list):
            for child in node:
                yield from objects(child)

    schema = config_schema()
    found = [o for o in objects(schema) if o is not schema["$defs"]["target_common"]
             and o is not schema["$defs"]["target"]]
    assert found
    assert all(o.get("additionalProperties") is False for o in found)


# -- parse_duration, format_duration -----------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("1h30m", 5400.0), ("500ms", 0.5), ("30s", 30.0), ("5m", 300.0), ("7d", 604800.0),
    ("1w", 604800.0), ("1.5s", 1.5), ("2d12h", 216000.0), ("1m0.5s", 60.5), ("0s", 0.0),
    (45, 45.0), (0.25, 0.25),
])
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [
    "", "30", "30 s", "30 days", "5m1h", "1h1h", "s", "1.s", "-5s", "1h 30m", "ms", "30S",
])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(
            f"{text!r} is not a duration (use e.g. 500ms, 30s, 5m, 1h30m, 7d)")):
        parse_duration(text)


@pytest.mark.parametrize("value", [-1, math.inf, math.nan, True])
def test_parse_duration_rejects_odd_numbers(value: float) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(value)


@pytest.mark.parametrize(("seconds", "text"), [
    (5400, "1h30m"), (0.5, "500ms"), (90061.001, "1d1h1m1s1ms"), (0, "0s"), (604800, "7d"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


_UNITS = [("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]


@given(st.lists(st.integers(0, 10_000), min_size=len(_UNITS), max_size=len(_UNITS)),
       st.integers(0, 999))
def test_duration_parts_add_up(counts: list[int], ms: int) -> None:
    text = "".join(f"{n}{u}" for n, (u, _) in zip(counts, _UNITS, strict=True) if n)
    text += f"{ms}ms" if ms or not text else ""
    expected = sum(n * size for n, (_, size) in zip(counts, _UNITS, strict=True)) + ms / 1000
    assert parse_duration(text) == pytest.approx(expected, rel=1e-12)


@given(st.integers(0, 10**12))
def test_format_duration_round_trips(ms: int) -> None:
    assert parse_duration(format_duration(ms / 1000)) == ms / 1000


@given(st.text(alphabet="0123456789.smhdw ", max_size=12))
def test_parse_duration_agrees_with_the_schema_pattern(text: str) -> None:
    matches = re.search(DURATION_PATTERN, text) is not None
    try:
        parse_duration(text)
    except ValueError:
        assert not matches
    else:
        assert matches


# -- parse_objective ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "ratio"), [
    ("99.9%", 0.999), (0.999, 0.999), ("99%", 0.99), ("99.95%", 0.9995), ("50%", 0.5),
    (0.5, 0.5), ("99.999%", 0.99999),
])
def test_parse_objective(value: str | float, ratio: float) -> None:
    assert parse_objective(value) == ratio


@pytest.mark.parametrize(("value", "message"), [
    ("99.9", "'99.9' is not an objective (use e.g. 99.9% or 0.999)"),
    ("high", "'high' is not an objective (use e.g. 99.9% or 0.999)"),
    ("100%", "'100%' is not an objective: it must lie strictly between 0% and 100%"),
    ("0%", "'0%' is not an objective: it must lie strictly between 0% and 100%"),
    (99.9, "99.9 is not an objective: a ratio must lie strictly between 0 and 1 "
           "(write 99.9% for a percentage)"),
    (1, "1 is not an objective: a ratio must lie strictly between 0 and 1"),
    (0, "0 is not an objective: a ratio must lie strictly between 0 and 1"),
    (True, "true is not an objective (use e.g. 99.9% or 0.999)"),
])
def test_parse_objective_rejects(value: str | float, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_objective(value)


@given(st.integers(1, 99_999))
def test_percent_and_ratio_agree(per_hundred_thousand: int) -> None:
    percent = f"{per_hundred_thousand / 1000:.3f}%"
    assert parse_objective(percent) == pytest.approx(per_hundred_thousand / 100_000, abs=1e-15)


# -- format_path --------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "text"), [
    (("channels", "app", "targets", 2, "url"), "channels.app.targets[2].url"),
    ((), TOP_LEVEL),
    (("store",), "store"),
    (("channels", "app", "targets", 0, "headers", "X-Token"),
     "channels.app.targets[0].headers.X-Token"),
    (("channels", "mini program"), 'channels["mini program"]'),
    (("headers", "a.b"), 'headers["a.b"]'),
    (("json", 'say "hi"'), 'json["say \\"hi\\""]'),
    ((0, 1), "[0][1]"),
])
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


def _parse_path(text: str) -> tuple[str | int, ...]:
    """The inverse of format_path, for the round-trip property."""
    if text == TOP_LEVEL:
        return ()
    out: list[str | int] = []
    token = re.compile(r'\.?([A-Za-z0-9_-]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')
    pos = 0
    while pos < len(text):
        m = token.match(text, pos)
        assert m is not None, text[pos:]
        plain, index, quoted = m.groups()
        out.append(plain if plain is not None else int(index) if index else json.loads(quoted))
        pos = m.end()
    return tuple(out)


@given(st.lists(st.one_of(st.integers(0, 10**6), st.text(min_size=1)), max_size=8))
def test_format_path_round_trips(path: list[str | int]) -> None:
    assert _parse_path(format_path(path)) == tuple(path)


@pytest.mark.usefixtures("in_fixtures")
def test_slo_overrides_and_maintenance() -> None:
    config = load("valid-slo-maintenance.yml")
    assert config.store.flush_interval_seconds == 5.0
    assert config.slo.window_seconds == 28 * 86400
    assert config.slo.latency_objective == 0.99
    assert config.slo.timezone == "Asia/Shanghai"
    app, branch = config.channels
    assert app.slo.objective == 0.9995
    assert app.slo.latency_objective == 0.99  # inherited
    assert branch.slo == config.slo
    (api,) = app.targets
    assert api.slo is not None
    assert api.slo.objective == 0.99
    assert branch.targets[0].slo is None
    one_off, weekly, local = config.maintenance
    assert one_off.start == 1_796_493_600.0  # 2026-12-05T18:00:00Z
    assert one_off.end == one_off.start + 7200
    assert one_off.channels == frozenset({"branch"})
    assert weekly.cron == "0 2 * * sun"
    assert weekly.duration_seconds == 7200
    assert weekly.targets == frozenset({"app-api"})
    assert local.start == 1_796_576_400.0  # 01:00 in Shanghai is 17:00Z the day before
