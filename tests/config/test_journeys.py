"""Journey and browser targets, the ``browser:`` and ``journeys:`` sections: typed values of
a valid file, the checks whose fixtures are ``testdata/invalid-journey*.yml`` and
``invalid-browser*.yml`` (run by test_loader), and that no variable's value is ever shown.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import ConfigError, config_schema, load_config, parse_config
from monitor.config.model import (
    BrowserSpec,
    Config,
    Extract,
    HttpSpec,
    JourneysConfig,
    JourneySpec,
    Target,
)
from monitor.config.values import DATE_PATTERN, parse_date, parse_reduction
from probes import PROBES

FIXTURES = Path(__file__).parent / "testdata"
SECRET = "hunter2-secret"


def _journey(target: Target | None) -> JourneySpec:
    assert target is not None
    assert isinstance(target.spec, JourneySpec)
    return target.spec


def _browser(target: Target | None) -> BrowserSpec:
    assert target is not None
    assert isinstance(target.spec, BrowserSpec)
    return target.spec


@pytest.fixture(scope="module")
def valid() -> Config:
    return load_config(FIXTURES / "valid-journeys.yml", env={"APP_PROBE_TOKEN": SECRET})


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, file="c.yml", env={})
    return [f"{p.path}: {p.message}" for p in info.value.problems]


def _one_journey(steps: str, extra: str = "") -> str:
    return ("channels:\n  app:\n    targets:\n      - name: j\n        probe: journey\n"
            f"{extra}        steps:\n{steps}")


# -- journeys ----------------------------------------------------------------------------


def test_a_journey_is_typed_step_by_step(valid: Config) -> None:
    target = valid.target("app-transfer")
    spec = _journey(target)
    assert target is not None
    assert target.is_flow
    assert target.confirm == 1
    assert target.latency_threshold_seconds == 5.0
    assert [s.name for s in spec.steps] == ["login", "balance", "transfer"]
    assert [s.name for s in spec.finally_steps] == ["cancel"]
    assert dict(spec.vars) == {"user": "test-user", "password": SECRET, "account": "TEST-1"}
    login, balance, transfer = spec.steps
    # json means POST unless a method is given; the json stays a JSON value, unfilled.
    assert login.request.method == "POST"
    assert login.request.body is None
    assert login.json_body == {"user": "{{ user }}", "password": "{{password}}",
                               "remember": True}
    assert login.request.expect.status == (200,)
    assert login.request.expect.latency_seconds == 0.8
    assert login.extract == (Extract(var="token", source="json", key="$.data.token"),)
    assert balance.request.method == "GET"
    assert balance.request.url == "https://app.example/api/accounts/{{ account }}/balance"
    assert balance.request.headers == (("Authorization", "Bearer {{ token }}"),)
    assert balance.request.expect.json_schema == {"type": "object",
                                                  "required": ["balance", "currency"]}
    assert [(e.var, e.source, e.group) for e in balance.extract] == [
        ("session", "cookie", 1), ("req_id", "header", 1), ("amount", "regex", 1),
        ("cur", "regex", "c")]
    assert transfer.request.method == "PUT"
    assert transfer.json_body is None
    assert transfer.request.body is not None
    assert "{{ session }}" in transfer.request.body
    assert spec.finally_steps[0].request.method == "DELETE"


def test_a_secret_var_is_kept_out_of_the_spec_repr(valid: Config) -> None:
    assert SECRET not in repr(valid.target("app-transfer"))


def test_finally_steps_may_use_what_any_main_step_extracts() -> None:
    text = _one_journey(
        "          - {name: a, request: {url: 'https://x.example/'},"
        " extract: {id: {json: $.id}}}\n"
        "        finally:\n"
        "          - {name: b, request: {url: 'https://x.example/{{ id }}'}}\n")
    spec = _journey(parse_config(text).target("j"))
    assert [s.name for s in spec.finally_steps] == ["b"]


def test_a_step_cannot_use_what_it_extracts_itself() -> None:
    text = _one_journey("          - {name: a, request: {url: 'https://x.example/{{ id }}'},"
                        " extract: {id: {json: $.id}}}\n")
    assert _errors(text) == [
        "channels.app.targets[0].steps[0].request.url: variable 'id' is used before any step "
        "extracts it (extracted by step 'a' at channels.app.targets[0].steps[0].extract.id)"]


def test_an_unknown_variable_is_reported_once_per_place_with_a_hint() -> None:
    text = _one_journey(
        "          - name: a\n"
        "            request: {url: 'https://x.example/{{ acount }}/{{ acount }}',"
        " headers: {X-A: '{{ acount }}'}}\n",
        "        vars: {account: TEST-1}\n")
    hint = ("unknown variable 'acount' (not in vars, and no step extracts it; did you mean "
            "'account'?)")
    assert _errors(text) == [f"channels.app.targets[0].steps[0].request.headers.X-A: {hint}",
                             f"channels.app.targets[0].steps[0].request.url: {hint}"]


def test_the_journey_timeout_bounds_each_step_latency() -> None:
    text = _one_journey("          - {name: a, request: {url: 'https://x.example/'},"
                        " expect: {latency: 6s}}\n", "        timeout: 5s\n")
    assert _errors(text) == [
        "channels.app.targets[0].steps[0].expect.latency: 6s is not shorter than the timeout "
        "5s, so no step could be slow without timing out"]


# -- browser checks ----------------------------------------------------------------------


def test_a_browser_check_is_typed_with_generated_step_names(valid: Config) -> None:
    target = valid.target("web-login")
    spec = _browser(target)
    assert target is not None
    assert target.is_flow
    assert target.latency_threshold_seconds == 8.0
    assert spec.viewport == (390, 844)
    assert spec.ignore_https_errors is True
    assert dict(spec.vars) == {"user": "web-user"}
    # "goto-2" is given, so the third goto is "goto-3": names stay unique either way.
    assert [s.name for s in spec.steps] == [
        "goto", "fill", "click", "wait_for", "wait_for-2", "expect_text",
        "expect_no_console_errors", "assets", "goto-2", "goto-3"]
    goto, fill, click, wait, wait_text, text, _, assets, *_ = spec.steps
    assert (goto.action, goto.url) == ("goto", "https://web.example/login")
    assert (fill.action, fill.selector, fill.value) == ("fill", "#user", "{{ user }}")
    assert (click.action, click.selector) == ("click", "text=Sign in")
    assert (wait.selector, wait.text) == ("#balance", None)
    assert (wait_text.selector, wait_text.text) == (None, "Welcome")
    assert (text.action, text.selector, text.text) == ("expect_text", "#main", "Balance")
    assert (assets.action, assets.timeout_seconds) == ("expect_requests_ok", 5.0)
    assert goto.timeout_seconds is None


def test_browser_defaults() -> None:
    text = ("channels: {web: {targets: [{name: w, probe: browser,"
            " steps: [{goto: 'https://x.example/'}]}]}}\n")
    spec = _browser(parse_config(text).target("w"))
    assert (spec.viewport, spec.ignore_https_errors, spec.latency_seconds) == (
        (1280, 800), False, None)


def test_the_browser_section_resolves_the_screenshot_folder(valid: Config,
                                                            tmp_path: Path) -> None:
    # A missing executable is no config error: the check fails at run time instead.
    assert valid.browser.executable == "/nonexistent/chromium"
    assert (valid.browser.max_concurrency, valid.browser.max_screenshots) == (1, 10)
    assert valid.browser.screenshot_dir == str(FIXTURES / "shots")
    cfg = tmp_path / "omniwatch.yml"
    cfg.write_text(f"browser: {{screenshot_dir: {tmp_path / 'abs'}}}\nchannels: {{}}\n")
    assert load_config(cfg).browser.screenshot_dir == str(tmp_path / "abs")


# -- flow-time objectives ----------------------------------------------------------------


def test_objectives_are_typed(valid: Config) -> None:
    plan, cap, later = valid.journeys.objectives
    assert (plan.target, plan.percentile) == ("web-login", 95.0)
    assert (plan.baseline_seconds, plan.reduce_by, plan.max_seconds) == (720.0, 0.3, None)
    assert plan.by == datetime(2027, 3, 1, tzinfo=UTC).timestamp()
    assert plan.since is None
    assert plan.objective_seconds == pytest.approx(504.0)
    assert (cap.target, cap.percentile, cap.max_seconds) == ("app-transfer", 50.0, 4.0)
    assert cap.since == datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    assert cap.objective_seconds == 4.0
    assert later.by == datetime(2027, 5, 31, 16, tzinfo=UTC).timestamp()
    assert later.objective_seconds == pytest.approx(8.0)


def test_no_journeys_section_means_no_objectives() -> None:
    assert parse_config("channels: {}\n").journeys == JourneysConfig()


@pytest.mark.parametrize(("value", "ratio"), [("30%", 0.3), (0.25, 0.25), ("12.5%", 0.125)])
def test_parse_reduction(value: str | float, ratio: float) -> None:
    assert parse_reduction(value) == ratio


@pytest.mark.parametrize(("value", "message"), [
    ("0%", "'0%' is not a reduction: it must lie strictly between 0% and 100%"),
    (1, "1 is not a reduction: a ratio must lie strictly between 0 and 1"),
    ("a lot", "'a lot' is not a reduction (use e.g. 30% or 0.3)"),
    (True, "true is not a reduction (use e.g. 30% or 0.3)"),
])
def test_parse_reduction_refuses(value: str | float, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_reduction(value)


def test_parse_date_reads_a_day_or_a_moment() -> None:
    assert parse_date("2027-03-01") == datetime(2027, 3, 1)
    assert parse_date("2027-03-01T08:30+08:00").utcoffset() is not None
    with pytest.raises(ValueError, match=r"^'2027-13-01' is not a date: "):
        parse_date("2027-13-01")


def test_date_pattern_is_the_schemas() -> None:
    assert config_schema()["$defs"]["date"]["pattern"] == DATE_PATTERN


# -- secrets and registries --------------------------------------------------------------


@pytest.mark.parametrize("password", [f"{SECRET}{{{{ passwrd }}}}", 4711])
def test_no_problem_message_shows_a_variable_value(tmp_path: Path, password: object) -> None:
    text = f"""
channels:
  app:
    targets:
      - name: j
        probe: journey
        vars: {{password: "{password}"}}
        steps:
          - name: a
            request: {{url: "https://x.example/{{{{ passwrd }}}}", json: {{p: "{{{{ tkn }}}}"}}}}
  web:
    targets:
      - name: w
        probe: browser
        vars: {{password: "{password}"}}
        steps:
          - {{fill: "#p", value: "{{{{ pasword }}}}"}}
"""
    if password == 4711:
        text = text.replace('"4711"', "4711")  # a number: refused by the schema
    cfg = tmp_path / "c.yml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    shown = str(info.value)
    assert SECRET not in shown
    assert "4711" not in shown
    if password == 4711:  # refused: the variables are not checked against what is left
        assert [p.message for p in info.value.problems] == [
            "expected a string, got a number (not shown: it is a secret)"] * 2
    else:
        assert shown.count("did you mean 'password'?") == 2
        assert len(info.value.problems) == 3


def test_the_schema_lists_every_probe_kind_in_the_registry() -> None:
    assert config_schema()["$defs"]["probe_kind"]["enum"] == list(PROBES)
    kinds = {branch["if"]["properties"]["probe"]["const"]
             for branch in config_schema()["$defs"]["target"]["allOf"]}
    assert kinds == set(PROBES)


def test_an_http_spec_is_still_built_as_before() -> None:
    text = ("channels: {app: {targets: [{name: h, probe: http, url: 'https://x.example/',"
            " body: x, expect: {latency: 1s}}]}}\n")
    target = parse_config(text).target("h")
    assert target is not None
    assert isinstance(target.spec, HttpSpec)
    assert not target.is_flow
    assert (target.spec.method, target.spec.expect.latency_seconds) == ("POST", 1.0)


def test_placeholders_in_expectations_are_refused() -> None:
    text = _one_journey(
        "          - name: a\n"
        "            request: {url: 'https://x.example/'}\n"
        "            expect: {json: {id: '{{ id }}', n: ['{{ a }}{{ b }}']},"
        " body_regex: '{{ id }}'}\n",
        "        vars: {id: '1', a: '2', b: '3'}\n")
    message = ("{{ name }} placeholders are filled only in the request (url, header values, "
               "body, json)")
    assert _errors(text) == [f"channels.app.targets[0].steps[0].expect.{where}: {message}"
                             for where in ("body_regex", "json.id", "json.n[0]")]
