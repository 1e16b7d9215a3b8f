"""``/api/v1/alerts`` and ``/api/v1/silences`` of a real ``omniwatch run`` process.

One process with ``server.api_token`` (from ``${ENV}``) and one without, both over a
SQLite store, watching a target that is down: the rules raise real alerts (a channel
outage inhibiting its target's alert) for the API to show.  Silences made over HTTP are
checked by the same parsers (and messages) as the CLI's flags and the config's values.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.config import ConfigError, parse_config
from monitor.server.api import API_MAX_BODY_BYTES
from tests.procs import OmniwatchProcess, omniwatch_running, run_omniwatch, wait_for
from tests.servers import closed_port

TOKEN_ENV = "OMNIWATCH_TEST_API_TOKEN"

CONFIG = """\
store: {{sqlite: {db}}}
{server}
channels:
  branch:
    targets:
      - {{name: core-gateway, probe: tcp, host: 127.0.0.1, port: {port}, interval: 1s,
         timeout: 1s}}
alerts:
  evaluation_interval: 1s
  rules: {{target_down: {{after: 1}}}}
"""


def _start(tmp_path: Path, name: str, server: str) -> OmniwatchProcess:
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(CONFIG.format(db=tmp_path / f"{name}.db", server=server,
                                 port=closed_port()))
    return OmniwatchProcess(cfg)


@pytest.fixture(scope="module")
def token() -> str:
    return "ow-api-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, token: str
            ) -> Iterator[OmniwatchProcess]:
    """A monitor whose API accepts silences from whoever sends ``token``."""
    with omniwatch_running(lambda: _start(tmp_path_factory.mktemp("api"), "guarded",
                                          f"server: {{api_token: '${{{TOKEN_ENV}}}'}}"),
                           {TOKEN_ENV: token}) as proc:
        yield proc


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OmniwatchProcess]:
    with omniwatch_running(lambda: _start(tmp_path_factory.mktemp("api-ro"), "read-only",
                                          "")) as proc:
        yield proc


def call(proc: OmniwatchProcess, method: str, path: str, body: Any = None, *,
         token: str | None = None, raw: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request; the answer's status and its JSON body."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(proc.url(path), method=method, data=data)
    req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    assert text, (status, "empty answer")
    return status, json.loads(text)


def silence_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"matchers": ["channel=branch"], "duration": "2h",
                            "author": "alice", "reason": "core upgrade CHG-1234"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _firing(proc: OmniwatchProcess) -> dict[str, dict[str, Any]]:
    status, doc = call(proc, "GET", "/api/v1/alerts")
    assert status == 200
    return {a["alertname"]: a for a in doc["alerts"] if a["status"] == "firing"}


def wait_firing(proc: OmniwatchProcess) -> dict[str, dict[str, Any]]:
    """The firing alerts, once the outage and its target's alert both fire."""
    def both() -> dict[str, dict[str, Any]] | None:
        firing = _firing(proc)
        return firing if {"ChannelDown", "TargetDown"} <= firing.keys() else None

    found = wait_for(both, timeout=30)
    assert isinstance(found, dict)
    return found


def test_alerts_shows_the_outage_and_the_alert_it_inhibits(guarded: OmniwatchProcess
                                                            ) -> None:
    alerts = wait_firing(guarded)
    outage, target = alerts["ChannelDown"], alerts["TargetDown"]
    assert outage["labels"]["channel"] == "branch"
    assert target["labels"]["target"] == "core-gateway"
    assert target["annotations"]["reason"] == "connect_refused"
    assert outage["muted_by"] == []
    assert target["muted_by"] == [f"inhibited:{outage['fingerprint']}"]
    assert outage["fired_at"] >= outage["active_since"]


def test_silences_created_listed_and_expired(guarded: OmniwatchProcess, token: str) -> None:
    wait_firing(guarded)
    status, made = call(guarded, "POST", "/api/v1/silences",
                        silence_body(matchers=["alertname=ChannelDown", 'channel=~"bra.*"']),
                        token=token)
    assert status == 201, made
    sid = made["id"]
    assert made["matchers"] == ['alertname="ChannelDown"', 'channel=~"bra.*"']
    assert made["ends_at"] - made["starts_at"] == 7200
    assert (made["author"], made["reason"], made["state"]) == (
        "alice", "core upgrade CHG-1234", "active")
    status, doc = call(guarded, "GET", "/api/v1/silences")
    assert status == 200
    assert [s for s in doc["silences"] if s["id"] == sid] == [made]
    # The running monitor mutes by it at its next evaluation; the API says so at once.
    assert wait_for(lambda: _firing(guarded)["ChannelDown"]["muted_by"] == [sid], timeout=10)
    silenced = ("omniwatch_alerts", frozenset({"alertname": "ChannelDown", "severity": "page",
                                               "state": "silenced"}.items()))
    assert wait_for(lambda: guarded.samples().get(silenced) == 1.0, timeout=10)
    # The CLI reads the same store: it sees the silence made over HTTP.
    cli = run_omniwatch("silence", "list", "-c", str(guarded.log_path.with_suffix(".yaml")),
                        "--json")
    assert cli.returncode == 0, cli.stderr
    assert sid in [s["id"] for s in json.loads(cli.stdout)["silences"]]

    status, ended = call(guarded, "DELETE", f"/api/v1/silences/{sid}", token=token)
    assert (status, ended) == (200, {"id": sid, "state": "expired"})
    status, doc = call(guarded, "GET", "/api/v1/silences")
    assert sid not in [s["id"] for s in doc["silences"]]
    status, doc = call(guarded, "GET", "/api/v1/silences?all=true")
    assert [s["state"] for s in doc["silences"] if s["id"] == sid] == ["expired"]
    status, again = call(guarded, "DELETE", f"/api/v1/silences/{sid}", token=token)
    assert (status, again) == (404, {"error": f"no active or future silence {sid!r}"})
    status, unknown = call(guarded, "DELETE", "/api/v1/silences/nosuch", token=token)
    assert (status, unknown) == (404, {"error": "no active or future silence 'nosuch'"})


def test_a_future_silence_is_pending(guarded: OmniwatchProcess, token: str) -> None:
    status, made = call(guarded, "POST", "/api/v1/silences",
                        silence_body(starts_at=4_102_444_800, duration=None,
                                     ends_at=4_102_448_400), token=token)
    assert status == 201, made
    assert made["state"] == "pending"
    assert made["starts_at"] == 4_102_444_800


def _config_message(matcher: str) -> str:
    text = ("channels: {app: {targets: [{name: a, probe: tcp, host: 127.0.0.1, port: 9}]}}\n"
            "alerts:\n  inhibit:\n"
            f"    - {{source: {{alertname: X}}, target: [{json.dumps(matcher)}]}}\n")
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    (problem,) = err.value.problems
    return problem.message


@pytest.mark.parametrize("matcher", ["channel", "channel=~(", "1bad=x", "a-b=c"])
def test_a_matcher_is_read_by_the_configs_parser(guarded: OmniwatchProcess, token: str,
                                                 matcher: str) -> None:
    status, doc = call(guarded, "POST", "/api/v1/silences",
                       silence_body(matchers=["team=ops", matcher]), token=token)
    assert status == 400
    assert doc == {"error": f"matchers[1]: {_config_message(matcher)}"}


BAD_BODIES: list[tuple[Any, str]] = [
    (silence_body(matchers=None), "matchers: "),
    (silence_body(matchers=[]), "matchers: "),
    (silence_body(matchers="channel=branch"), "matchers: "),
    (silence_body(matchers=[1]), "matchers: "),
    (silence_body(duration="2x"), "duration: '2x' is not a duration"),
    (silence_body(duration="0s"), "duration: '0s' must be greater than zero"),
    (silence_body(duration=0), "duration: 0 must be greater than zero"),
    (silence_body(duration=-60), "duration: -60 is not a duration"),
    (silence_body(duration=True), "duration: "),
    (silence_body(duration=None, ends_at=1.0), "ends_at: "),
    (silence_body(duration="1h", ends_at=4_102_444_800),
     "duration: give duration or ends_at, not both"),
    (silence_body(starts_at=1.0, duration="1h"), "duration: the silence would have ended"),
    (silence_body(starts_at=4_102_444_800, duration=None, ends_at=4_102_444_800),
     "ends_at: must be after starts_at"),
    (silence_body(ends_at="tomorrow", duration=None), "ends_at: "),
    (silence_body(starts_at="now"), "starts_at: "),
    (silence_body(author=None), "author: "),
    (silence_body(author="  "), "author: "),
    (silence_body(reason=""), "reason: "),
    (silence_body(reason=7), "reason: "),
    (silence_body(comment="hi"), "unknown field(s): comment"),
    ([silence_body()], "the body must be a JSON object"),
    ("channel=branch", "the body must be a JSON object"),
]


@pytest.mark.parametrize(("body", "expected"), BAD_BODIES)
def test_a_bad_body_is_400_naming_the_field(guarded: OmniwatchProcess, token: str,
                                            body: Any, expected: str) -> None:
    status, doc = call(guarded, "POST", "/api/v1/silences", body, token=token)
    assert status == 400, doc
    assert set(doc) == {"error"}
    assert doc["error"].startswith(expected), doc


@pytest.mark.parametrize("raw", [b"", b"{", b"matchers=channel%3Dbranch", b"\xff\xfe{}",
                                 b"[" * 8000 + b"]" * 8000])
def test_a_body_that_is_not_json_is_400(guarded: OmniwatchProcess, token: str,
                                        raw: bytes) -> None:
    status, doc = call(guarded, "POST", "/api/v1/silences", raw=raw, token=token)
    assert status == 400, doc
    assert set(doc) == {"error"}
    assert "Traceback" not in guarded.log_path.read_text()


def test_a_body_over_16_kib_is_413(guarded: OmniwatchProcess, token: str) -> None:
    body = silence_body(reason="x" * API_MAX_BODY_BYTES)
    status, doc = call(guarded, "POST", "/api/v1/silences", body, token=token)
    assert (status, doc) == (413, {"error": f"body over {API_MAX_BODY_BYTES} bytes"})
    just = silence_body(reason="")
    just["reason"] = "x" * (API_MAX_BODY_BYTES - len(json.dumps(just).encode()))
    assert len(json.dumps(just).encode()) == API_MAX_BODY_BYTES
    status, doc = call(guarded, "POST", "/api/v1/silences", just, token=token)
    assert status == 201, doc


def test_mutations_need_the_bearer_token(guarded: OmniwatchProcess, token: str) -> None:
    wrong = [None, "", token[:-1], token + "x", token.upper()]
    for given in wrong:
        status, doc = call(guarded, "POST", "/api/v1/silences", silence_body(), token=given)
        assert (status, doc) == (401, {"error": "missing or wrong bearer token"}), given
        status, doc = call(guarded, "DELETE", "/api/v1/silences/x", token=given)
        assert status == 401, given
    for header in (f"Basic {token}", token, f"Token {token}"):
        status, _ = call(guarded, "POST", "/api/v1/silences", silence_body(),
                         headers={"Authorization": header})
        assert status == 401, header
    # The scheme is case-insensitive, as RFC 9110 says.
    status, made = call(guarded, "POST", "/api/v1/silences", silence_body(),
                        headers={"Authorization": f"bearer {token}"})
    assert status == 201, made
    # Checked before the body is read: no token, no 413 or 400 that tells anything.
    status, _ = call(guarded, "POST", "/api/v1/silences", raw=b"x" * (API_MAX_BODY_BYTES * 2))
    assert status == 401


def test_the_token_is_never_repeated(guarded: OmniwatchProcess, token: str) -> None:
    call(guarded, "POST", "/api/v1/silences", silence_body(), token=token)
    call(guarded, "POST", "/api/v1/silences", silence_body(), token=token + "x")
    call(guarded, "POST", "/api/v1/silences", silence_body(reason=None), token=token)
    answers = [guarded.get(p)[1] for p in ("/api/v1/alerts", "/api/v1/silences?all=true",
                                           "/metrics", "/")]
    assert all(token not in a for a in answers)
    assert token not in guarded.log_path.read_text()
    assert token not in guarded.log_path.with_suffix(".yaml").read_text()


def test_without_a_token_configured_the_api_is_read_only(read_only: OmniwatchProcess,
                                                          token: str) -> None:
    for given in (None, token, "anything"):
        status, doc = call(read_only, "POST", "/api/v1/silences", silence_body(), token=given)
        assert status == 403
        assert "server.api_token" in doc["error"]
        status, doc = call(read_only, "DELETE", "/api/v1/silences/x", token=given)
        assert status == 403
    status, doc = call(read_only, "GET", "/api/v1/silences")
    assert (status, doc) == (200, {"silences": []})
    status, doc = call(read_only, "GET", "/api/v1/alerts")
    assert status == 200
    assert isinstance(doc["alerts"], list)
