"""``GET /`` (the status page) and ``GET /assets/{name}`` (its stylesheet and script).

The page is rendered from the same status document ``/api/v1/status`` answers, taken
from whatever ``status`` callable the application hands in (the shared, cached snapshot),
so the page and the API never disagree and a page view costs no extra build.  Each
document is rendered once per language, in a worker thread, and shared by every reader
until the next snapshot: at 10,000 targets a rendering takes a good part of a second of
CPU, which must neither be paid per view (a wall screen per office) nor block the loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any, Final

from aiohttp import web

from monitor.server.page.i18n import COOKIE, choose_language, supported
from monitor.server.page.render import render_page
from monitor.server.scrape import Rendering, respond

StatusSource = Callable[[], Awaitable[dict[str, Any]]]
ASSET_TYPES: Final[Mapping[str, str]] = {
    "status.css": "text/css", "status.js": "text/javascript"}
# A year: the cookie only remembers which language the reader picked.
COOKIE_MAX_AGE_SECONDS: Final = 365 * 86400
# The assets change with a release only; an hour keeps a wall screen's refreshes cheap
# while an upgrade still shows within the hour.
ASSET_MAX_AGE_SECONDS: Final = 3600



class PageRenderings:
    """The page of the latest status document in each language, rendered once (in a
    worker thread) for all the readers of that document."""

    def __init__(self) -> None:
        # Per language: the document rendered (held, so its identity cannot be reused by
        # a new one) and the rendering, done or in progress; and the last finished page.
        self._latest: dict[str, tuple[dict[str, Any], asyncio.Task[Rendering]]] = {}
        self._shown: dict[str, Rendering] = {}
        self.renders = 0  # how many renderings were made (for tests and curiosity)

    async def get(self, document: dict[str, Any], lang: str) -> Rendering:
        """The page of ``document`` in ``lang``.

        The reader whose request starts a rendering waits for it; readers arriving while
        it is in progress get the previous snapshot's page (one snapshot, about a second,
        behind) instead of queueing behind a rendering of several hundred milliseconds.
        """
        held = self._latest.get(lang)
        started = held is None or held[0] is not document
        if held is None or started:
            self.renders += 1
            task = asyncio.create_task(asyncio.to_thread(
                lambda: Rendering(render_page(document, lang).encode())))
            task.add_done_callback(_retrieve)
            task.add_done_callback(functools.partial(self._keep, lang))
            self._latest[lang] = (document, task)
        else:
            task = held[1]
        previous = self._shown.get(lang)
        if not started and not task.done() and previous is not None:
            return previous
        # shield: a reader that goes away must not cancel what others are waiting for.
        return await asyncio.shield(task)

    def _keep(self, lang: str, task: asyncio.Task[Rendering]) -> None:
        if not task.cancelled() and task.exception() is None:
            self._shown[lang] = task.result()


def _retrieve(task: asyncio.Task[Rendering]) -> None:
    # A failure reaches every reader awaiting it; retrieved here too so that one nobody
    # awaited any more is not logged as never retrieved.
    if not task.cancelled():
        task.exception()


STATUS_SOURCE: web.AppKey[StatusSource] = web.AppKey("page_status")
ASSETS: web.AppKey[Mapping[str, bytes]] = web.AppKey("page_assets")
RENDERINGS: web.AppKey[PageRenderings] = web.AppKey("page_renderings", PageRenderings)


def load_assets() -> dict[str, bytes]:
    """The stylesheet and script shipped in this package."""
    folder = resources.files("monitor.server.page") / "assets"
    return {name: (folder / name).read_bytes() for name in ASSET_TYPES}


def language(request: web.Request) -> str:
    """The reader's language (see :func:`~monitor.server.page.i18n.choose_language`)."""
    return choose_language(request.query.get("lang"), request.cookies.get(COOKIE),
                           request.headers.get("Accept-Language"))


async def status_page(request: web.Request) -> web.StreamResponse:
    """The status page in the reader's language (gzipped when accepted: at 10,000
    targets it is a few MB of HTML that shrinks about twentyfold); ``?lang=`` also
    remembers the choice."""
    lang = language(request)
    document = await request.app[STATUS_SOURCE]()
    remember = supported(request.query.get("lang", "")) == lang

    def headers(response: web.StreamResponse) -> None:
        # The page is always current: never served from a cache, and varies with the
        # header and cookie that chose its language.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Vary"] = "Accept-Encoding, Accept-Language, Cookie"
        if remember:
            response.set_cookie(COOKIE, lang, max_age=COOKIE_MAX_AGE_SECONDS, path="/",
                                samesite="Lax", httponly=True)

    rendering = await request.app[RENDERINGS].get(document, lang)
    return await respond(request, rendering, "text/html; charset=utf-8", prepare=headers)


async def asset(request: web.Request) -> web.Response:
    """``/assets/status.css`` or ``/assets/status.js``; anything else 404."""
    name = request.match_info["name"]
    body = request.app[ASSETS].get(name)
    if body is None:
        raise web.HTTPNotFound(text=f"no asset {name!r}\n")
    return web.Response(body=body, content_type=ASSET_TYPES[name], charset="utf-8",
                        headers={"Cache-Control": f"max-age={ASSET_MAX_AGE_SECONDS}"})


def add_page_routes(app: web.Application, status: StatusSource) -> None:
    """Mount the status page on ``app``, rendering what ``status()`` returns."""
    app[STATUS_SOURCE] = status
    app[ASSETS] = load_assets()
    app[RENDERINGS] = PageRenderings()
    app.router.add_get("/", status_page)
    app.router.add_get("/assets/{name}", asset)
