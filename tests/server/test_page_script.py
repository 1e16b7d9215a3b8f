"""The status page's script in the system's headless Chromium, without a monitor.

The page is rendered from the fixture document and every request (the page, its assets,
a target's detail) is answered by route interception, so the script's own formatting
is checked against exact values in a second or two, and nothing leaves the browser.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from monitor.config.model import BrowserConfig
from monitor.server.page import render_page
from monitor.server.page.i18n import words
from monitor.server.page.routes import ASSET_TYPES, load_assets
from tests.server.page_fixture import status_document
from tests.support import headless_chromium

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Route

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

CHROMIUM = BrowserConfig().executable
# Nothing listens there: interception answers every request before it could be sent.
BASE = "http://127.0.0.1:9"


def detail(**availability: Any) -> dict[str, Any]:
    """A ``/api/v1/targets/app-api`` answer whose availability is ``availability``."""
    return {
        "name": "app-api", "channel": "app", "kind": "http", "state": "up", "reason": None,
        "since": None, "interval_seconds": 30.0, "timeout_seconds": 5.0, "last": None,
        "cert_expiry_timestamp": None,
        "availability": {"objective": 0.999, "window": "30d", "sli": None,
                         "budget_remaining": None, "status": "no_data",
                         "burn_rates": {"5m": None, "1h": None, "6h": None, "3d": None},
                         **availability},
        "latency": None, "steps": [], "store": {"ok": True, "error": None},
    }


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with headless_chromium(CHROMIUM) as launched:
        yield launched


@asynccontextmanager
async def opened(browser: Browser, answer: dict[str, Any], *, width: int = 1280,
                 height: int = 800, lang: str = "en") -> AsyncIterator[Page]:
    """The page in a fresh context, ``answer`` as ``/api/v1/targets/app-api``; console
    errors fail the test."""
    assets = load_assets()
    errors: list[str] = []

    async def serve(route: Route) -> None:
        path = route.request.url.removeprefix(BASE)
        if path == "/":
            await route.fulfill(body=render_page(status_document(), lang),
                                content_type="text/html; charset=utf-8")
        elif path.startswith("/assets/"):
            name = path.removeprefix("/assets/")
            await route.fulfill(body=assets[name], content_type=ASSET_TYPES[name])
        elif path == "/api/v1/targets/app-api":
            await route.fulfill(body=json.dumps(answer), content_type="application/json")
        else:
            await route.abort()

    context = await browser.new_context(viewport={"width": width, "height": height})
    try:
        await context.route("**/*", serve)
        page = await context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{BASE}/", wait_until="load")
        yield page
    finally:
        await context.close()
    assert errors == []


async def detail_text(browser: Browser, answer: dict[str, Any], lang: str = "en") -> str:
    """The detail dialog's text once it shows ``answer``."""
    async with opened(browser, answer, lang=lang) as page:
        await page.click("#channel-app a.target[data-target='app-api']")
        dialog = page.locator("dialog#detail")
        await dialog.locator(f"text={words(lang)['last_result']}").wait_for()
        text = await dialog.inner_text()
    return " ".join(text.split())


async def test_detail_says_objectives_as_configured(browser: Browser) -> None:
    # toFixed(1) made a 99.99% objective read 100.0%.
    text = await detail_text(browser, detail(objective=0.9999, sli=0.99995))
    assert "99.995% (objective 99.99%)" in text
    text = await detail_text(browser, detail(objective=0.999, sli=0.9991))
    assert "99.910% (objective 99.9%)" in text


async def test_detail_rounds_a_ratio_down(browser: Browser) -> None:
    text = await detail_text(browser, detail(objective=0.9999, sli=0.9998996,
                                             budget_remaining=0.99996))
    assert "99.989% (objective 99.99%)" in text
    assert "99.9%" in text.split("Error budget left")[1]
    assert "no data" in text.split("p50")[1]


async def test_a_refresh_keeps_sideways_scroll_and_focus_on_a_phone(browser: Browser) -> None:
    async with opened(browser, detail(), width=390, height=844) as page:
        table = "#consistency .scroll"
        left = await page.eval_on_selector(table, "e => { e.scrollLeft = 150; "
                                                  "return e.scrollLeft; }")
        assert left > 0  # the table is wider than a phone
        await page.focus("#incidents a.target[data-target='app-api']")
        assert await page.evaluate("window.omniwatchStatus.refresh()") is True
        assert await page.eval_on_selector(table, "e => e.scrollLeft") == left
        focused = await page.evaluate(
            "[document.activeElement.closest('section').id,"
            " document.activeElement.dataset.target]")
        assert focused == ["incidents", "app-api"]


async def test_detail_reasons_in_the_readers_language(browser: Browser) -> None:
    failed = {"success": False, "reason": "http_status", "message": "HTTP 503",
              "degraded": False, "duration_seconds": 0.01, "phases": {},
              "status_code": 503, "cert_expiry_timestamp": None, "attempts": 1,
              "started_at": 1764648000.0, "finished_at": 1764648000.01}
    steps = [{"name": "login", "success": False, "reason": "timeout",
              "duration_seconds": 1.0, "status_code": None, "message": "",
              "final": False, "skipped": False}]
    answer = {**detail(), "last": failed, "steps": steps}
    zh = await detail_text(browser, answer, "zh")
    assert "HTTP 状态码异常" in zh
    assert "login: 失败 (超时)" in zh
    en = await detail_text(browser, answer)
    assert "http_status" in en
    assert "login: failure (timeout)" in en
