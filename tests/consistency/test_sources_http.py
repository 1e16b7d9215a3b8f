"""The paged HTTP JSON API source against a real local aiohttp server on port 0."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.config.consistency import build_consistency
from monitor.consistency.model import ConsistencyReport
from monitor.consistency.run import run_check
from tests.consistency import dataset as ds
from tests.consistency.conftest import write_csv

ROWS = ds.channel()


def page_of(request: web.Request) -> tuple[int, list[dict[str, Any]]]:
    page = int(request.query["page"])
    size = int(request.query["page_size"])
    return page, ROWS[(page - 1) * size: page * size]


async def paged(request: web.Request) -> web.Response:
    _, items = page_of(request)
    return web.json_response({"items": items})


async def by_cursor(request: web.Request) -> web.Response:
    start = int(request.query.get("cursor", "0"))
    size = int(request.query["limit"])
    items = ROWS[start:start + size]
    nxt = start + size if start + size < len(ROWS) else None
    return web.json_response({"data": {"customers": items}, "next": nxt})


async def flaky(request: web.Request) -> web.Response:
    page, items = page_of(request)
    if page == 3:
        return web.Response(status=500, text="internal error")
    return web.json_response({"items": items})


async def garbage(request: web.Request) -> web.Response:
    page, items = page_of(request)
    if page == 2:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")
    return web.json_response({"items": items})


async def no_list(request: web.Request) -> web.Response:
    return web.json_response({"items": {"oops": 1}})


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.json_response({"items": []})


async def repeats(request: web.Request) -> web.Response:
    # Ignores the page parameter: the same page forever.
    return web.json_response({"items": ROWS[1:6]})


@pytest.fixture
async def api() -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in (("/customers", paged), ("/cursor", by_cursor), ("/flaky", flaky),
                          ("/garbage", garbage), ("/nolist", no_list), ("/slow", slow),
                          ("/repeats", repeats)):
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def check(tmp_path: Path, channel: dict[str, Any]) -> ConsistencyReport:
    ref = write_csv(tmp_path / "ref.csv", ds.reference(), ds.COLUMNS)
    cfg = build_consistency(ds.section({
        "branch": {"kind": "csv", "path": str(ref), "updated_at": "updated_at"},
        "app": {"updated_at": "updated_at", **channel},
    }))
    # run_check is synchronous: the server needs this loop free while it runs.
    (report,) = await asyncio.to_thread(run_check, cfg, now=ds.NOW)
    return report


PAGES = {"page_size": 5}


async def test_paged_api(api: str, tmp_path: Path) -> None:
    report = await check(tmp_path, {"kind": "http", "url": f"{api}/customers?tenant=a",
                                    "pagination": PAGES})
    assert report.error is None, report.error
    assert dict(report.counts) == ds.EXPECTED
    assert report.rows_read["app"] == ds.CHANNEL_ROWS


async def test_cursor_api(api: str, tmp_path: Path) -> None:
    report = await check(tmp_path, {"kind": "http", "url": f"{api}/cursor", "pagination": {
        "style": "cursor", "size_param": "limit", "page_size": 7,
        "items_path": "data.customers", "next_path": "next"}})
    assert report.error is None, report.error
    assert dict(report.counts) == ds.EXPECTED


@pytest.mark.parametrize(("path", "expected"), [
    ("/flaky", "source 'app': status: HTTP 500 on page 3"),
    ("/garbage", "source 'app': garbage: page 2 is not JSON"),
    ("/nolist", "source 'app': garbage: page 1 has no list at 'items'"),
    ("/repeats", "source 'app': order: key #6 is not after the previous one in byte order; "
                 "sort the source by key in binary collation"),
])
async def test_api_failures_fail_the_check(api: str, tmp_path: Path, path: str,
                                           expected: str) -> None:
    report = await check(tmp_path, {"kind": "http", "url": api + path, "pagination": PAGES})
    assert report.error == expected
    assert report.ratio is None
    assert not report.meets_objective


async def test_api_timeout(api: str, tmp_path: Path) -> None:
    report = await check(tmp_path, {"kind": "http", "url": f"{api}/slow", "timeout": "300ms"})
    assert report.error is not None
    assert report.error.startswith("source 'app': timeout: ")


async def test_api_down(tmp_path: Path) -> None:
    report = await check(tmp_path, {"kind": "http", "url": "http://127.0.0.1:1/customers"})
    assert report.error is not None
    assert report.error.startswith("source 'app': connect: ")


def test_json_escapes_keep_broken_text() -> None:
    # The broken name travels as a \\udcff escape and must still be rejected.
    assert "\\udcff" in json.dumps(ds.BROKEN)
