"""``/api/v1/status`` and its parts, the target detail and the badges, from a real
Monitor probing real local servers into a real SQLite store (and, once, a real
PostgreSQL that goes away under it)."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from monitor.config import parse_config
from monitor.runtime.monitor import Monitor
from monitor.server.api_status import STATUS_KEY
from monitor.server.app import build_app
from monitor.server.status import StatusService
from monitor.store import open_store
from monitor.store.sql import SqlProbeStore
from tests.pgserver import PgServer, pg_server
from tests.runtime.alert_support import until
from tests.servers import http_server
from tests.support import require

__all__ = ["pg_server"]

SVG_NS = {"s": "http://www.w3.org/2000/svg"}
# Customer data in the consistency sources: none of it may reach an answer.
CUSTOMER_VALUES = ("Li Lei", "13800138000", "13800138001", "11010519491231002X")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def config_text(url: str, store: str, d: Path) -> str:
    now = datetime.now(UTC).timestamp()
    return f"""\
store: {store}
defaults: {{interval: 200ms, timeout: 150ms}}
channels:
  app:
    targets:
      - {{name: app-api, probe: http, url: "{url}/ok"}}
      - {{name: app-broken, probe: http, url: "{url}/fail"}}
      - name: app-journey
        probe: journey
        steps:
          - {{name: health, request: {{url: "{url}/ok"}}}}
  website:
    targets:
      - {{name: web-home, probe: http, url: "{url}/ok"}}
  branch:
    service_hours: {{days: mon-sun, from: "00:00", to: "24:00", tz: Asia/Shanghai}}
    targets:
      - {{name: core-gateway, probe: http, url: "{url}/fail"}}
maintenance:
  - {{name: core upgrade, start: "{iso(now - 3600)}", end: "{iso(now + 3600)}",
     channels: [branch]}}
journeys:
  objectives:
    - {{target: app-journey, percentile: 95, max: 5s}}
consistency:
  reference: branch
  key: customer_id
  fields: [name, phone]
  sources:
    branch: {{kind: csv, path: {d}/ref.csv}}
    app: {{kind: csv, path: {d}/app.csv}}
"""


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"status": "UP"})


async def fail(request: web.Request) -> web.Response:
    return web.json_response({"status": "DOWN"}, status=503)


async def target_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/fail", fail)
    return app


@dataclass
class Running:
    monitor: Monitor
    base: str
    http: aiohttp.ClientSession
    app: web.Application

    async def get(self, path: str) -> tuple[int, str, Any]:
        async with self.http.get(self.base + path) as r:
            body = await r.read()
            ctype = r.headers.get("Content-Type", "")
            return r.status, ctype, json.loads(body) if "json" in ctype else body.decode()


@asynccontextmanager
async def running(tmp_path: Path, store_config: str, store: SqlProbeStore
                  ) -> AsyncIterator[Running]:
    (tmp_path / "ref.csv").write_text("customer_id,name,phone\nC1,Li Lei,13800138000\n"
                                      "C2,Han Meimei,13900139000\n")
    (tmp_path / "app.csv").write_text("customer_id,name,phone\nC1,Li Lei,13800138001\n"
                                      "C2,Han Meimei,13900139000\n")
    async with http_server(await target_app()) as url:
        mon = Monitor(parse_config(config_text(url, store_config, tmp_path)), store=store)
        mon.start()
        app = build_app(mon)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            await until(lambda: all(s.last is not None for s in mon.state.targets.values())
                        and len(mon.consistency.latest) == 1)
            assert await mon.flush()
            async with aiohttp.ClientSession() as http:
                yield Running(mon, base, http, app)
        finally:
            await runner.cleanup()
            await mon.stop()


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    store = open_store(parse_config(f"store: {{sqlite: {tmp_path}/h.db}}\n").store)
    async with running(tmp_path, f"{{sqlite: {tmp_path}/h.db}}", store) as r:
        yield r
    store.close()


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in items}


async def test_status_shows_channels_targets_and_history(live: Running) -> None:
    status, ctype, doc = await live.get("/api/v1/status")
    assert status == 200
    assert ctype.startswith("application/json")
    assert doc["store"] == {"ok": True, "error": None}
    assert doc["objectives"] == {"availability": 0.999, "consistency": 0.99, "window": "30d"}
    channels = by_name(doc["channels"])
    assert channels["app"]["state"] == "degraded"
    assert channels["app"]["targets"] == {"total": 3, "up": 2, "degraded": 0, "down": 1,
                                          "pending": 0}
    assert channels["website"]["state"] == "up"
    # Down, but inside its maintenance window: shown as maintenance, never as down.
    assert channels["branch"]["state"] == "maintenance"
    assert channels["branch"]["service_hours"] == "mon-sun 00:00-24:00 Asia/Shanghai"
    assert doc["state"] == "degraded"
    website = channels["website"]
    assert website["availability"]["sli"] == 1.0
    assert website["availability"]["status"] == "ok"
    assert channels["app"]["availability"]["status"] == "page"
    assert 0.0 < channels["app"]["availability"]["sli"] < 1.0
    hourly = channels["branch"]["uptime"]["hourly"]
    assert len(hourly) == 48
    assert len(channels["branch"]["uptime"]["daily"]) == 90
    # Every branch probe was excluded: the bar says so and is not red.
    assert hourly[-1]["state"] == "excluded"
    assert hourly[-1]["total"] == 0
    assert hourly[-1]["excluded"] > 0
    assert website["uptime"]["hourly"][-1]["state"] == "up"
    assert channels["app"]["uptime"]["hourly"][-1]["state"] == "partial"

    targets = by_name(doc["targets"])
    assert list(targets) == ["app-api", "app-broken", "app-journey", "web-home",
                             "core-gateway"]
    broken = targets["app-broken"]
    assert (broken["state"], broken["reason"], broken["kind"]) == ("down", "http_status", "http")
    assert broken["since"] <= broken["last_run"]
    assert targets["core-gateway"]["state"] == "maintenance"
    assert targets["app-api"]["reason"] is None

    (journey,) = doc["journeys"]
    assert journey["name"] == "app-journey"
    assert journey["state"] == "up"
    (objective,) = journey["objectives"]
    assert objective["name"] == "p95"
    assert objective["objective_seconds"] == 5.0
    assert objective["value_seconds"] is not None
    assert objective["met"] is True

    (dataset,) = doc["consistency"]["datasets"]
    (app,) = dataset["channels"]
    assert (app["channel"], app["ratio"], app["judged"], app["inconsistent"],
            app["worst_field"], app["error"]) == ("app", 0.5, 2, 1, "phone", None)
    assert doc["consistency"]["ratio"] == 0.5

    (maintenance,) = doc["maintenance"]
    assert maintenance["name"] == "core upgrade"
    assert maintenance["active"] is True
    assert maintenance["channels"] == ["branch"]
    assert {(i["target"], i["ended_at"]) for i in doc["incidents"]} == {("app-broken", None)}
    assert all(a["severity"] and a["summary"] for a in doc["alerts"])


async def test_firing_alerts_are_listed(live: Running) -> None:
    # The alerting loop saves its state to the store, which the snapshot reads.
    store = live.monitor.store
    assert isinstance(store, SqlProbeStore)
    await until(lambda: any(a.status == "firing" and a.label("alertname") ==
                            "ConsistencyBelowObjective"
                            for a in store.load_engine_state().alerts.values()))
    live.app[STATUS_KEY].max_age_seconds = 0.0
    alerts = (await live.get("/api/v1/status"))[2]["alerts"]
    alert = next(a for a in alerts if a["alertname"] == "ConsistencyBelowObjective")
    assert (alert["severity"], alert["channel"], alert["target"]) == ("ticket", "app", None)
    assert alert["since"] is not None
    assert "app" in alert["summary"]


async def test_status_is_gzipped_when_accepted(live: Running) -> None:
    plain = (await live.get("/api/v1/status"))[2]
    async with live.http.get(live.base + "/api/v1/status",
                             headers={"Accept-Encoding": "gzip"}) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        assert r.headers["Vary"] == "Accept-Encoding"
        assert await r.json() == plain  # the same (cached) snapshot, decompressed


async def test_no_customer_data_in_any_answer(live: Running) -> None:
    for path in ("/api/v1/status", "/api/v1/consistency", "/api/v1/targets",
                 "/api/v1/targets/app-broken", "/api/v1/journeys", "/api/v1/slo"):
        status, _, doc = await live.get(path)
        assert status == 200
        text = json.dumps(doc, ensure_ascii=False)
        assert not [v for v in CUSTOMER_VALUES if v in text], path


async def test_parts_and_filters(live: Running) -> None:
    status, _, doc = await live.get("/api/v1/targets?channel=website")
    assert status == 200
    assert [t["name"] for t in doc["targets"]] == ["web-home"]
    status, _, doc = await live.get("/api/v1/targets?channel=nope")
    assert status == 404
    assert doc == {"error": "unknown channel 'nope'"}
    status, _, doc = await live.get("/api/v1/consistency")
    assert status == 200
    assert doc["ratio"] == 0.5
    status, _, doc = await live.get("/api/v1/journeys")
    assert [j["name"] for j in doc["journeys"]] == ["app-journey"]
    status, _, doc = await live.get("/api/v1/slo")
    assert status == 200
    assert [s["slo"] for s in doc["slos"]] == ["app", "website", "branch"]
    status, _, doc = await live.get("/api/v1/incidents?channel=app")
    assert [i["target"] for i in doc["incidents"]] == ["app-broken"]
    status, _, doc = await live.get("/api/v1/incidents?channel=website")
    assert doc == {"incidents": [], "next_before": None}
    status, _, doc = await live.get("/api/v1/incidents?since=4102444800")  # 2100
    assert doc == {"incidents": [], "next_before": None}
    status, _, doc = await live.get("/api/v1/incidents?since=yesterday")
    assert status == 400
    assert "since" in doc["error"]
    status, ctype, doc = await live.get("/api/v1/nothing-here")
    assert status == 404
    assert ctype.startswith("application/json")
    assert "error" in doc


async def test_slo_answers_the_snapshots_figures_without_a_store_read_per_request(
        live: Running) -> None:
    reads = 0
    store = live.monitor.store
    assert store is not None
    window_counts = store.window_counts

    def counted(*args: Any, **kw: Any) -> Any:
        nonlocal reads
        reads += 1
        return window_counts(*args, **kw)

    store.window_counts = counted  # type: ignore[method-assign]
    live.app[STATUS_KEY].max_age_seconds = 3600.0  # one snapshot, however slow the machine
    _, _, status = await live.get("/api/v1/status")
    before = reads
    answers = [await live.get("/api/v1/slo") for _ in range(5)]
    # Within the snapshot's second, /api/v1/slo reads nothing more from the store.
    assert live.app[STATUS_KEY].builds == 1
    assert reads == before
    for code, _, doc in answers:
        assert code == 200
        slos = {s["slo"]: s for s in doc["slos"]}
        for channel in status["channels"]:
            mine, shown = slos[channel["name"]]["availability"], channel["availability"]
            assert mine["sli_ratio"][shown["window"]] == shown["sli"]
            assert mine["error_budget_remaining_ratio"] == shown["budget_remaining"]
            assert {w: mine["burn_rate"].get(w) for w in shown["burn_rates"]} == (
                shown["burn_rates"])


async def test_parts_are_encoded_once_per_snapshot(live: Running) -> None:
    service = live.app[STATUS_KEY]
    service.max_age_seconds = 3600.0  # one snapshot, however slow the machine
    answers = [await live.get(path) for path in (
        "/api/v1/targets", "/api/v1/targets", "/api/v1/targets?channel=app",
        "/api/v1/targets?channel=app", "/api/v1/targets?channel=nope", "/api/v1/journeys",
        "/api/v1/consistency")]
    view = await service.get()
    assert service.builds == 1
    assert sorted(view.parts) == ["consistency", "journeys", "targets", "targets/app"]
    doc = view.document
    assert [a[0] for a in answers] == [200, 200, 200, 200, 404, 200, 200]
    assert answers[0][2] == answers[1][2] == {"targets": doc["targets"]}
    assert answers[2][2] == answers[3][2] == {
        "targets": [t for t in doc["targets"] if t["channel"] == "app"]}
    assert answers[5][2] == {"journeys": doc["journeys"]}
    assert answers[6][2] == doc["consistency"]
    async with live.http.get(live.base + "/api/v1/targets",
                             headers={"Accept-Encoding": "gzip"}) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        assert await r.json() == {"targets": doc["targets"]}


async def test_target_detail(live: Running) -> None:
    status, _, doc = await live.get("/api/v1/targets/app-broken")
    assert status == 200
    assert (doc["name"], doc["channel"], doc["state"], doc["interval_seconds"],
            doc["timeout_seconds"]) == ("app-broken", "app", "down", 0.2, 0.15)
    last = doc["last"]
    assert (last["success"], last["reason"], last["status_code"]) == (False, "http_status", 503)
    assert set(last["phases"]) >= {"connect", "first_byte"}
    assert last["finished_at"] >= last["started_at"]
    assert doc["availability"]["sli"] == 0.0
    assert doc["availability"]["status"] == "page"
    assert doc["latency"]["p50"] <= doc["latency"]["p95"]
    status, _, doc = await live.get("/api/v1/targets/app-journey")
    assert [(s["name"], s["success"]) for s in doc["steps"]] == [("health", True)]
    status, _, doc = await live.get("/api/v1/targets/unknown")
    assert status == 404
    assert doc == {"error": "unknown target 'unknown'"}


async def test_badges(live: Running) -> None:
    async with live.http.get(live.base + "/api/v1/badges/website/uptime/24h.svg") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("image/svg+xml")
        assert r.headers["Cache-Control"] == "public, max-age=30"
        svg = ET.fromstring(await r.read())
    texts = [t.text for t in svg.findall(".//s:text", SVG_NS)]
    assert texts[1::2] == ["uptime 24h", "100%"]
    status, _, body = await live.get("/api/v1/badges/app/uptime/1h.svg")
    value = [t.text for t in ET.fromstring(body).findall(".//s:text", SVG_NS)][3]
    assert status == 200
    assert value is not None
    assert value.endswith("%")
    assert value != "100%"
    for path in ("/api/v1/badges/nope/uptime/24h.svg", "/api/v1/badges/app/uptime/2w.svg"):
        status, ctype, _ = await live.get(path)
        assert (status, ctype.split(";")[0]) == (404, "image/svg+xml")
    for path in ("/health.svg", "/api/v1/badges/health.svg"):
        status, _, body = await live.get(path)
        texts = [t.text for t in ET.fromstring(body).findall(".//s:text", SVG_NS)]
        assert status == 200
        assert texts[1::2] == ["health", "degraded"]


async def test_concurrent_requests_share_one_build(live: Running) -> None:
    service = StatusService(live.monitor)
    views = await asyncio.gather(*(service.get() for _ in range(50)))
    assert service.builds == 1
    assert len({id(v) for v in views}) == 1
    service.max_age_seconds = 0.0  # too old at once: the next caller builds anew
    fresh = await service.get()
    assert service.builds == 2
    assert fresh is not views[0]
    assert fresh.document["generated_at"] >= views[0].document["generated_at"]
    assert json.loads(fresh.body) == fresh.document


async def test_a_postgres_store_going_away_nulls_its_parts(
        pg_server: PgServer, tmp_path: Path) -> None:
    require(pg_server.running(), "the private PostgreSQL did not start")
    store_config = f"{{postgres: '{pg_server.dsn}'}}"
    store = open_store(parse_config(f"store: {store_config}\n").store)
    async with running(tmp_path, store_config, store) as live:
        live.app[STATUS_KEY].max_age_seconds = 0.0
        status, _, doc = await live.get("/api/v1/status")
        assert doc["store"]["ok"] is True
        assert doc["incidents"]
        pg_server.stop("immediate")
        status, _, doc = await live.get("/api/v1/status")
        assert status == 200
        assert doc["store"] == {"ok": False, "error": "store unavailable: connection"}
        assert all(c["availability"] is None and c["uptime"] is None for c in doc["channels"])
        assert doc["alerts"] is None
        assert doc["incidents"] is None
        assert doc["journeys"][0]["objectives"][0]["value_seconds"] is None
        assert doc["journeys"][0]["objectives"][0]["met"] is None
        # What lives in memory is still there.
        assert by_name(doc["targets"])["app-broken"]["state"] == "down"
        assert by_name(doc["channels"])["app"]["state"] == "degraded"
        status, _, doc = await live.get("/api/v1/targets/app-broken")
        assert status == 200
        assert doc["availability"] is None
        assert doc["store"]["ok"] is False
        assert doc["last"]["status_code"] == 503
        for path in ("/api/v1/slo", "/api/v1/incidents"):
            status, _, doc = await live.get(path)
            assert (status, doc) == (503, {"error": "store unavailable: connection"})
        status, ctype, _ = await live.get("/api/v1/badges/app/uptime/24h.svg")
        assert (status, ctype.split(";")[0]) == (503, "image/svg+xml")
    store.close()


def test_without_a_store_or_results_nothing_is_claimed() -> None:
    from monitor.server.status import build_view, gather

    mon = Monitor(parse_config("channels:\n  app:\n    targets:\n"
                               "      - {name: a, probe: tcp, host: 127.0.0.1, port: 9}\n"))
    doc = build_view(None, gather(mon, 1764648000.0)).document
    assert doc["store"] == {"ok": False, "error": "no history store configured"}
    assert doc["state"] == "unknown"
    (app,) = doc["channels"]
    assert app["state"] == "unknown"
    assert app["targets"]["pending"] == 1
    assert app["availability"] is None
    assert doc["targets"][0]["state"] == "pending"
    assert doc["targets"][0]["last_run"] is None
    assert doc["alerts"] is None
    assert doc["incidents"] is None
    assert doc["consistency"] == {"objective": None, "ratio": None, "datasets": []}


def test_targets_in_maintenance_never_make_their_channel_red() -> None:
    from monitor.metrics.state import TargetState
    from monitor.server.status import build_view, gather
    from probes.result import ProbeResult

    now = 1764648000.0
    text = ("channels:\n  app:\n    targets:\n"
            "      - {name: a, probe: tcp, host: 127.0.0.1, port: 9}\n"
            "      - {name: b, probe: tcp, host: 127.0.0.1, port: 9}\n"
            "maintenance:\n"
            f"  - {{name: db, start: '{iso(now - 600)}', end: '{iso(now + 600)}', "
            "targets: [TARGETS]}\n")
    down = ProbeResult(False, "connect", 0.01, started_at=now - 5)
    up = ProbeResult(True, "ok", 0.01, started_at=now - 5)

    def states(targets: str, b: ProbeResult) -> tuple[str, str]:
        mon = Monitor(parse_config(text.replace("TARGETS", targets)))
        mon.state.targets["a"] = TargetState("app", "a", "tcp", last=down)
        mon.state.targets["b"] = TargetState("app", "b", "tcp", last=b)
        doc = build_view(None, gather(mon, now)).document
        return doc["state"], doc["channels"][0]["state"]

    # A window naming every target of the channel is the channel's maintenance.
    assert states("a, b", down) == ("maintenance", "maintenance")
    # A failing target nobody counts now neither degrades its channel nor brings it down.
    assert states("a", up) == ("up", "up")
    assert states("a", down) == ("down", "down")


def test_detail_finished_at_only_when_it_is_known() -> None:
    from monitor.metrics.state import TargetState
    from monitor.server.target_detail import target_detail
    from probes.result import ProbeResult

    mon = Monitor(parse_config("channels:\n  app:\n    targets:\n"
                               "      - {name: a, probe: tcp, host: 127.0.0.1, port: 9,"
                               " confirm: 2}\n"))
    (t,) = mon.config.targets

    def last(result: ProbeResult) -> Any:
        st = TargetState("app", "a", "tcp", last=result)
        return target_detail(t, st, None, None, "no history store configured")["last"]

    once = last(ProbeResult(True, "ok", 0.25, started_at=1764648000.0))
    assert once["finished_at"] == 1764648000.25
    # Three timeouts of 5 s: the last attempt's duration from the first's start would
    # say it ended 10 s before it did.
    confirmed = last(ProbeResult(False, "timeout", 5.0, attempts=3, started_at=1764648000.0))
    assert (confirmed["started_at"], confirmed["finished_at"]) == (1764648000.0, None)


async def test_incidents_come_in_pages_that_miss_none(live: Running) -> None:
    from probes.result import ProbeResult

    store = live.monitor.store
    assert store is not None
    t0 = datetime.now(UTC).timestamp() - 3 * 86400
    # Five old incidents, two of them (other targets) starting in the same second: a
    # page must never end between incidents sharing a start.
    for target, start in (("old-a", t0), ("old-a", t0 + 600), ("old-a", t0 + 1200),
                          ("old-b", t0 + 1800), ("old-c", t0 + 1800)):
        store.record("app", target, ProbeResult(False, "timeout", 0.1, started_at=start),
                     False)
        store.record("app", target, ProbeResult(True, "ok", 0.1, started_at=start + 60),
                     False)
    assert await live.monitor.flush()
    status, _, everything = await live.get("/api/v1/incidents?channel=app")
    assert status == 200
    assert everything["next_before"] is None
    expected = [(i["target"], i["started_at"]) for i in everything["incidents"]]
    assert len(expected) == 6  # app-broken's open one, newest, and the five
    pages, before = [], None
    while True:
        query = "/api/v1/incidents?channel=app&limit=2" + (
            "" if before is None else f"&before={before!r}")
        status, _, doc = await live.get(query)
        assert status == 200
        pages.append([(i["target"], i["started_at"]) for i in doc["incidents"]])
        before = doc["next_before"]
        if before is None:
            break
    assert [len(p) for p in pages] == [3, 2, 1]  # the shared start stays on one page
    assert [i for p in pages for i in p] == expected
    for bad in ("limit=0", "limit=10001", "limit=two", "before=soon"):
        status, _, doc = await live.get("/api/v1/incidents?" + bad)
        assert status == 400
        assert bad.split("=")[0] in doc["error"]


async def test_callers_during_a_build_get_the_previous_snapshot(
        live: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from monitor.server import status

    service = StatusService(live.monitor)
    old = await service.get()
    release = threading.Event()
    real = status.build_view

    def slow(*args: Any) -> Any:
        assert release.wait(30)
        return real(*args)

    monkeypatch.setattr(status, "build_view", slow)
    service.max_age_seconds = 0.0  # the next caller starts a build and waits for it
    starter = asyncio.create_task(service.get())
    await asyncio.sleep(0.05)
    assert not starter.done()
    # Others meanwhile get the previous snapshot at once rather than queue behind it...
    assert await asyncio.wait_for(service.get(), 5) is old
    # ...unless it is too old to be shown at all.
    service.max_stale_seconds = 0.0
    late = asyncio.create_task(service.get())
    await asyncio.sleep(0.05)
    assert not late.done()
    release.set()
    new = await starter
    assert new is not old
    assert await late is new
    assert service.builds == 2
