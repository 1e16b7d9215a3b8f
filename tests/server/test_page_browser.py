"""The status page in the system's headless Chromium, against a real monitor on port 0.

One monitor serves the module: four channels of real local targets — the app's API
answers 503 (down), the website and its journey are fine (up), the mini-program is
slower than its latency threshold (degraded) and the branch is outside its opening hours
(closed) — over a SQLite history seeded with 90 days of results, and a consistency check
of CSV exports.  Every request the browser makes is recorded by route interception and
anything not on loopback is refused; console errors fail the test.  The test saves the
README's screenshots (docs/img/status-desktop.png, docs/img/status-phone.png).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from monitor.config import parse_config
from monitor.config.model import BrowserConfig, Config
from monitor.runtime.monitor import Monitor
from monitor.server.app import start_server
from monitor.slo.bindings import exclusions
from monitor.store import open_store
from monitor.store.sql import SqlProbeStore
from probes.result import ProbeResult
from tests.bankapi import bank_api
from tests.journey_support import dump, journey_document
from tests.servers import echo, http_server, tcp_server
from tests.support import headless_chromium

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

CHROMIUM = BrowserConfig().executable
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "img"
EXPECTED = {"app": "down", "website": "up", "miniprogram": "degraded", "branch": "closed"}
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
HOUR = 3600.0


def _targets_app() -> web.Application:
    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"status": "UP"})

    async def fail(_: web.Request) -> web.Response:
        return web.json_response({"status": "DOWN"}, status=503)

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(0.25)
        return web.json_response({"status": "UP"})

    app = web.Application()
    app.add_routes([web.get("/ok", ok), web.get("/fail", fail), web.get("/slow", slow)])
    return app


def _closed_hours(now: float) -> dict[str, str]:
    """Eight opening hours (UTC, every day) that do not include ``now`` nor the next
    minutes, so the branch is closed while the test runs."""
    hour = dt.datetime.fromtimestamp(now, dt.UTC).hour
    start = 1 if hour >= 12 else 13
    return {"days": "mon-sun", "from": f"{start:02d}:00", "to": f"{start + 8:02d}:00",
            "tz": "UTC"}


def _write_csv(path: Path, rows: list[dict[str, str]]) -> str:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def _exports(folder: Path) -> dict[str, str]:
    """Synthetic customer exports (made-up values): the app differs in three phones and
    one risk level out of 200 records, the website in none."""
    base = [{"customer_id": f"C{i:05d}", "phone": f"1380000{i:04d}",
             "risk_level": str(1 + i % 5)} for i in range(200)]
    app = [dict(r) for r in base]
    for i in (7, 70, 170):
        app[i]["phone"] = "13900000000"
    app[99]["risk_level"] = "9"
    return {"branch": _write_csv(folder / "branch.csv", base),
            "app": _write_csv(folder / "app.csv", app),
            "website": _write_csv(folder / "website.csv", base)}


def _config(folder: Path, web_url: str, bank_url: str, gateway: int, now: float) -> Config:
    journey = journey_document(bank_url, interval="2s", timeout="2s")["channels"]["app"][
        "targets"][0] | {"name": "web-transfer"}
    files = _exports(folder)
    upgrade = dt.datetime.fromtimestamp(now + 86400, dt.UTC).replace(minute=0, second=0)
    doc: dict[str, Any] = {
        "store": {"sqlite": str(folder / "omniwatch.db"), "flush_interval": "1s"},
        "defaults": {"interval": "1s", "timeout": "1s"},
        "channels": {
            "app": {"targets": [{"name": "app-api", "probe": "http",
                                 "url": f"{web_url}/fail"}]},
            "website": {"targets": [{"name": "web-home", "probe": "http",
                                     "url": f"{web_url}/ok"}, journey]},
            "miniprogram": {"targets": [{"name": "mini-api", "probe": "http",
                                         "url": f"{web_url}/slow",
                                         "expect": {"latency": "100ms"}}]},
            "branch": {"service_hours": _closed_hours(now),
                       "targets": [{"name": "core-gateway", "probe": "tcp",
                                    "host": "127.0.0.1", "port": gateway}]},
        },
        "journeys": {"objectives": [{"target": "web-transfer", "percentile": 95,
                                     "max": "4s"}]},
        "maintenance": [{"name": "core-upgrade", "start": upgrade.isoformat(),
                         "end": (upgrade + dt.timedelta(hours=2)).isoformat(),
                         "channels": ["branch"]}],
        "consistency": {
            "objective": "99%", "reference": "branch", "key": "customer_id",
            "fields": ["phone", "risk_level"], "schedule": {"interval": "1h"},
            "sources": {name: {"kind": "csv", "path": path} for name, path in files.items()},
        },
        "alerts": {"evaluation_interval": "1s", "rules": {"target_down": {"after": 1}}},
    }
    return parse_config(dump(doc))


def _seed(store: SqlProbeStore, config: Config, now: float) -> None:
    """90 days of history before this hour: every target good, except the app's API,
    which failed for two hours three days ago and once twenty days ago; the branch's
    results outside its opening hours are excluded, as the monitor would flag them."""
    ex = exclusions(config)
    first = (now // HOUR - 90 * 24) * HOUR
    bad_hours = {first + (87 * 24 + 10) * HOUR, first + (87 * 24 + 11) * HOUR}
    t = first
    while t < now // HOUR * HOUR:
        for quarter in range(4):
            at = t + quarter * 900
            for target in config.targets:
                ok = not (target.name == "app-api" and (
                    t in bad_hours or (t == first + 70 * 24 * HOUR and quarter == 2)))
                result = ProbeResult(success=ok, reason="ok" if ok else "http_status",
                                     duration_seconds=0.05, started_at=at)
                store.record(target.channel, target.name, result,
                             ex.is_excluded(target.channel, target.name, at))
        t += HOUR
        if t % 86400 == 0:
            store.flush()
    store.flush()


@dataclass
class Served:
    url: str
    monitor: Monitor


async def _status(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/api/v1/status") as r:
        assert r.status == 200
        doc: dict[str, Any] = await r.json()
        return doc


async def _settled(url: str) -> None:
    """Until every channel shows its expected state, an alert fires and the consistency
    check has run: what the page is meant to show (not a timing assertion)."""
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while True:
            doc = await _status(session, url)
            states = {c["name"]: c["state"] for c in doc["channels"]}
            done = (states == EXPECTED and doc["alerts"]
                    and doc["consistency"]["ratio"] is not None
                    and all(j["last_duration_seconds"] for j in doc["journeys"]))
            if done:
                return
            assert time.monotonic() < deadline, f"not settled: {states}, {doc['alerts']}"
            await asyncio.sleep(0.5)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    folder = tmp_path_factory.mktemp("page")
    now = time.time()
    async with http_server(_targets_app()) as web_url, bank_api() as bank, \
            tcp_server(echo) as gateway:
        config = _config(folder, web_url, bank.url, gateway.port, now)
        store = open_store(config.store)
        await asyncio.to_thread(_seed, store, config, now)
        monitor = Monitor(config, store=store)
        runner, port = await start_server(monitor, "127.0.0.1", 0)
        monitor.start()
        try:
            url = f"http://127.0.0.1:{port}"
            await _settled(url)
            yield Served(url, monitor)
        finally:
            await monitor.stop()
            await runner.cleanup()
            await asyncio.to_thread(store.close)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with headless_chromium(CHROMIUM) as launched:
        yield launched


@dataclass
class Watched:
    """A browser context whose every request and console error is recorded."""

    context: BrowserContext
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def page(self) -> Page:
        page = await self.context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    def check(self) -> None:
        assert self.requests, "no request was recorded"
        outside = [u for u in self.requests
                   if urlsplit(u).scheme not in ("data",) and urlsplit(u).hostname
                   not in LOOPBACK]
        assert outside == []
        assert self.errors == []


async def _watched(browser: Browser, *, width: int, height: int, locale: str,
                   mobile: bool = False) -> Watched:
    context = await browser.new_context(viewport={"width": width, "height": height},
                                        locale=locale, is_mobile=mobile, has_touch=mobile)
    watched = Watched(context)

    async def record(route: Any) -> None:
        url = route.request.url
        watched.requests.append(url)
        if urlsplit(url).hostname in LOOPBACK or url.startswith("data:"):
            await route.continue_()
        else:
            await route.abort()

    await context.route("**/*", record)
    return watched


async def _channel_states(page: Page) -> dict[str, str]:
    states: dict[str, str] = await page.eval_on_selector_all(
        "article.channel",
        "els => Object.fromEntries(els.map(e => [e.dataset.channel, e.dataset.state]))")
    return states


async def test_english_four_channels_and_screenshots(served: Served, browser: Browser) -> None:
    watched = await _watched(browser, width=1440, height=900, locale="en-GB")
    try:
        page = await watched.page()
        await page.goto(f"{served.url}/", wait_until="networkidle")
        assert await page.locator("h1").inner_text() == "Channel status"
        assert await _channel_states(page) == EXPECTED
        app = page.locator("#channel-app")
        assert "✕ down" in await app.inner_text()
        assert "http_status" in await app.inner_text()
        branch = page.locator("#channel-branch")
        # The hours outside opening time are drawn as excluded, not as failures.
        assert await branch.locator(".cell.c-excluded").count() > 0
        assert await branch.locator(".cell.c-down, .cell.c-partial").count() == 0
        assert await page.locator("#channel-app .bar").first.locator(".cell").count() == 48
        text = await page.locator("main").inner_text()
        # The channel-wide outage fires (its target's own alert is inhibited by it).
        for expected in ("ChannelDown", "core-upgrade", "web-transfer", "phone",
                         "Recent incidents"):
            assert expected in text, expected
        # The consistency check compared phone numbers: none of them is on the page.
        html = await page.content()
        assert "1380000" not in html
        assert "13900000000" not in html
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "status-desktop.png"), full_page=True)
    finally:
        await watched.context.close()
    watched.check()


async def test_phone_width(served: Served, browser: Browser) -> None:
    watched = await _watched(browser, width=390, height=844, locale="en-US", mobile=True)
    try:
        page = await watched.page()
        await page.goto(f"{served.url}/", wait_until="networkidle")
        assert await _channel_states(page) == EXPECTED
        # Nothing but the tables' own scroll boxes is wider than the phone.
        overflow = await page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 390
        await page.screenshot(path=str(SHOTS / "status-phone.png"), full_page=False)
    finally:
        await watched.context.close()
    watched.check()


async def test_chinese_and_the_switch(served: Served, browser: Browser) -> None:
    watched = await _watched(browser, width=1280, height=900, locale="zh-CN")
    try:
        page = await watched.page()
        await page.goto(f"{served.url}/", wait_until="networkidle")
        assert await page.get_attribute("html", "lang") == "zh-Hans"
        assert await page.locator("h1").inner_text() == "渠道状态"
        assert await _channel_states(page) == EXPECTED
        assert "故障" in await page.locator("#channel-app").inner_text()
        assert "非服务时间" in await page.locator("#channel-branch").inner_text()
        # The switch goes to English and remembers it over the browser's preference.
        await page.click("nav.lang >> text=English")
        await page.wait_for_load_state("networkidle")
        assert await page.locator("h1").inner_text() == "Channel status"
        await page.goto(f"{served.url}/", wait_until="networkidle")
        assert await page.locator("h1").inner_text() == "Channel status"
    finally:
        await watched.context.close()
    watched.check()


async def test_detail_opens_on_click_and_survives_a_refresh(served: Served,
                                                           browser: Browser) -> None:
    watched = await _watched(browser, width=1440, height=900, locale="en-US")
    try:
        page = await watched.page()
        await page.goto(f"{served.url}/", wait_until="networkidle")
        await page.click("#channel-app a.target[data-target='app-api']")
        dialog = page.locator("dialog#detail")
        await dialog.locator("text=Last result").wait_for()
        assert await dialog.is_visible()
        detail = await dialog.inner_text()
        assert "app-api" in detail
        assert "http_status" in detail
        assert "Status code" in detail
        assert "503" in detail
        assert "Phases" in detail
        # A refresh swaps the page under the dialog, which stays open and filled.
        assert await page.evaluate("window.omniwatchStatus.refresh()") is True
        assert await dialog.is_visible()
        assert "http_status" in await dialog.inner_text()
        assert await _channel_states(page) == EXPECTED
        await dialog.locator("button.close").click()
        assert not await dialog.is_visible()
        # The journey's detail lists its steps.
        await page.click("a.target[data-target='web-transfer']")
        await dialog.locator("text=Steps").wait_for()
        assert "login" in await dialog.inner_text()
    finally:
        await watched.context.close()
    assert any(u.endswith("/api/v1/targets/app-api") for u in watched.requests)
    watched.check()
