"""``GET /`` and ``/assets/*`` served over HTTP (port 0) from a fixed status document:
language negotiation, the switch's cookie, caching headers, the assets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from monitor.server.page import add_page_routes
from monitor.server.page.i18n import COOKIE
from tests.server.page_fixture import status_document
from tests.servers import http_server


@pytest_asyncio.fixture
async def url() -> AsyncIterator[str]:
    async def source() -> dict[str, Any]:
        return status_document()

    app = web.Application()
    add_page_routes(app, source)
    async with http_server(app) as base:
        yield base


async def _get(url: str, path: str, **kw: Any) -> tuple[aiohttp.ClientResponse, str]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s, \
            s.get(url + path, **kw) as r:
        return r, await r.text()


@pytest.mark.parametrize(("headers", "path", "heading"), [
    ({}, "/", "Channel status"),
    ({"Accept-Language": "zh-CN,zh;q=0.9"}, "/", "渠道状态"),
    ({"Accept-Language": "zh-CN"}, "/?lang=en", "Channel status"),
    ({"Cookie": f"{COOKIE}=zh"}, "/", "渠道状态"),
    ({"Cookie": f"{COOKIE}=zh", "Accept-Language": "en"}, "/", "渠道状态"),
])
async def test_language(url: str, headers: dict[str, str], path: str, heading: str) -> None:
    r, text = await _get(url, path, headers=headers)
    assert r.status == 200
    assert r.content_type == "text/html"
    assert f"<h1>{heading}</h1>" in text
    assert r.headers["Cache-Control"] == "no-store"
    assert "Accept-Language" in r.headers["Vary"]


async def test_the_switch_sets_a_cookie(url: str) -> None:
    r, _ = await _get(url, "/?lang=zh")
    morsel = r.cookies[COOKIE]
    assert morsel.value == "zh"
    assert morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    plain, _ = await _get(url, "/")
    assert COOKIE not in plain.cookies
    unknown, text = await _get(url, "/?lang=klingon")
    assert COOKIE not in unknown.cookies
    assert "<h1>Channel status</h1>" in text


@pytest.mark.parametrize(("name", "kind", "needle"), [
    ("status.js", "text/javascript", "omniwatchStatus"),
    ("status.css", "text/css", ".c-excluded"),
])
async def test_assets(url: str, name: str, kind: str, needle: str) -> None:
    r, text = await _get(url, f"/assets/{name}")
    assert r.status == 200
    assert r.content_type == kind
    assert needle in text
    assert r.headers["Cache-Control"].startswith("max-age=")


@pytest.mark.parametrize("name", ["nope.js", "..%2Fi18n.py", "status.CSS"])
async def test_unknown_asset(url: str, name: str) -> None:
    r, _ = await _get(url, f"/assets/{name}")
    assert r.status == 404


async def test_one_rendering_per_document_and_language() -> None:
    from monitor.server.page.routes import RENDERINGS

    documents = [status_document()]

    async def source() -> dict[str, Any]:
        return documents[-1]

    app = web.Application()
    add_page_routes(app, source)
    async with http_server(app) as base:
        texts = await asyncio.gather(*(_get(base, "/") for _ in range(5)),
                                     _get(base, "/?lang=zh"), _get(base, "/?lang=zh"))
        assert app[RENDERINGS].renders == 2
        assert all("<h1>Channel status</h1>" in t for _, t in texts[:5])
        assert all("<h1>渠道状态</h1>" in t for _, t in texts[5:])
        # The next snapshot is a new document: rendered anew, and shown.
        fresh = status_document()
        fresh["channels"][0]["name"] = "app-next"
        documents.append(fresh)
        _, text = await _get(base, "/")
        assert app[RENDERINGS].renders == 3
        assert 'data-channel="app-next"' in text


async def test_readers_during_a_rendering_get_the_previous_page(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from monitor.server.page import routes

    release = threading.Event()
    real = routes.render_page

    def slow(document: dict[str, Any], lang: str) -> str:
        if document["channels"][0]["name"] == "app-next":
            assert release.wait(30)
        return real(document, lang)

    monkeypatch.setattr(routes, "render_page", slow)
    pages = routes.PageRenderings()
    first = status_document()
    old = await pages.get(first, "en")
    fresh = status_document()
    fresh["channels"][0]["name"] = "app-next"
    starter = asyncio.create_task(pages.get(fresh, "en"))
    await asyncio.sleep(0.05)
    assert not starter.done()  # the reader that started the rendering waits for it
    # Another reader meanwhile: the previous page at once, not a queue behind the render.
    assert await asyncio.wait_for(pages.get(fresh, "en"), 5) is old
    release.set()
    new = await starter
    assert b'data-channel="app-next"' in new.plain
    assert await pages.get(fresh, "en") is new
    assert pages.renders == 2


async def test_the_page_is_gzipped_when_accepted(url: str) -> None:
    import gzip

    async with aiohttp.ClientSession(auto_decompress=False) as http, \
            http.get(url + "/?lang=zh", headers={"Accept-Encoding": "gzip"}) as r:
        raw = await r.read()
        assert r.headers["Content-Encoding"] == "gzip"
        assert r.headers["Vary"] == "Accept-Encoding, Accept-Language, Cookie"
        assert r.headers["Cache-Control"] == "no-store"
        assert r.cookies[COOKIE].value == "zh"
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<h1>渠道状态</h1>" in gzip.decompress(raw).decode()
    r, text = await _get(url, "/?lang=zh", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in r.headers
    assert "<h1>渠道状态</h1>" in text
