"""A local web site for the browser probe's tests: real pages over HTTP on port 0.

Pages (all under one :func:`page_server`):

``/ok``              a greeting, a script bundle that adds ``#transfer`` after 200 ms
                     and a layout shift; clicking the button shows "Transfer started".
``/form``            a ``#user`` input echoed into ``#echo`` as it is typed.
``/missing-bundle``  its script bundle answers 404.
``/console-error``   its bundle (``/static/errors.js``) logs ``console.error`` on line 2 and
                     throws an uncaught ``TypeError`` on line 3, both with a "secret" text.
``/echo``            a ``#pw`` input whose bundle (``/static/echo.js``) logs what is typed
                     with ``console.error`` on line 3.
``/spam``            logs 5000 ``console.error`` lines at once.
``/late``            adds ``#late`` after 3 s.
``/no-button``       ``#transfer`` never appears.
``/cookie``          sets a cookie; shows whether the request already carried one.
``/slow``            loads ``/static/slow.js``, which the server holds 300 ms, counting how
                     many such requests are in flight at once (the pages open at once).
``/hang``            never answers.
``/busy``            its script never returns (a hung renderer).
``/status/<code>``   answers with that status.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from tests.servers import http_server

_PAGE = "<!doctype html><html><head><title>{title}</title>{head}</head><body>{body}</body></html>"

_APP_JS = """
setTimeout(() => {
  const b = document.createElement('button');
  b.id = 'transfer';
  b.textContent = 'Transfer';
  b.onclick = () => { document.getElementById('status').textContent = 'Transfer started'; };
  document.body.prepend(b);
}, 200);
"""


_ERRORS_JS = """// line 1
console.error('balance widget failed for account 4242');
null.secretField;
"""

_ECHO_JS = """// line 1
document.getElementById('pw').addEventListener('input', e => {
  console.error('rejected password ' + e.target.value);
});
"""


def _html(title: str, body: str, head: str = "") -> web.Response:
    return web.Response(text=_PAGE.format(title=title, head=head, body=body),
                        content_type="text/html")


@dataclass
class PageSite:
    """A running :func:`page_server`: its base URL and what it counted."""

    url: str
    slow_in_flight: int = 0
    slow_peak: int = 0
    slow_served: int = 0

    def page(self, path: str) -> str:
        return f"{self.url}{path}"


def _app(site: PageSite) -> web.Application:
    async def ok(_: web.Request) -> web.Response:
        return _html("ok", "<h1>Welcome to the bank</h1><p id='status'>ready</p>",
                     head="<script src='/static/app.js' defer></script>")

    async def app_js(_: web.Request) -> web.Response:
        return web.Response(text=_APP_JS, content_type="application/javascript")

    async def form(_: web.Request) -> web.Response:
        return _html("form", "<input id='user'><p id='echo'></p><script>"
                     "document.getElementById('user').addEventListener('input', e => "
                     "{ document.getElementById('echo').textContent = 'typed ' + "
                     "e.target.value.length; });</script>")

    async def missing_bundle(_: web.Request) -> web.Response:
        return _html("missing", "<p>Welcome</p>",
                     head="<script src='/static/app-missing.js?v=secret'></script>")

    async def console_error(_: web.Request) -> web.Response:
        return _html("console", "<p>Welcome</p>",
                     head="<script src='/static/errors.js?v=token'></script>")

    async def errors_js(_: web.Request) -> web.Response:
        return web.Response(text=_ERRORS_JS, content_type="application/javascript")

    async def echo(_: web.Request) -> web.Response:
        return _html("echo", "<input id='pw'><script src='/static/echo.js'></script>")

    async def echo_js(_: web.Request) -> web.Response:
        return web.Response(text=_ECHO_JS, content_type="application/javascript")

    async def spam(_: web.Request) -> web.Response:
        return _html("spam", "<p>Welcome</p><script>for (let i = 0; i < 5000; i++) "
                     "{ console.error('spam ' + 'x'.repeat(1000)); }</script>")

    async def late(_: web.Request) -> web.Response:
        return _html("late", "<p>Welcome</p><script>setTimeout(() => { const b = "
                     "document.createElement('b'); b.id = 'late'; b.textContent = 'late'; "
                     "document.body.append(b); "
                     "}, 3000);</script>")

    async def no_button(_: web.Request) -> web.Response:
        return _html("no button", "<p>Welcome</p>")

    async def cookie(request: web.Request) -> web.Response:
        seen = "yes" if "session" in request.cookies else "no"
        response = _html("cookie", f"<p id='seen'>cookie {seen}</p>")
        response.set_cookie("session", "s3cret", max_age=3600)
        return response

    async def slow(_: web.Request) -> web.Response:
        return _html("slow", "<p>Welcome</p>", head="<script src='/static/slow.js'></script>")

    async def slow_js(_: web.Request) -> web.Response:
        site.slow_in_flight += 1
        site.slow_peak = max(site.slow_peak, site.slow_in_flight)
        try:
            await asyncio.sleep(0.3)
        finally:
            site.slow_in_flight -= 1
        site.slow_served += 1
        return web.Response(text="window.slowLoaded = true;",
                            content_type="application/javascript")

    async def hang(_: web.Request) -> web.Response:
        await asyncio.Event().wait()  # cancelled when the server shuts down
        raise AssertionError("unreachable")

    async def busy(_: web.Request) -> web.Response:
        return _html("busy", "<p>Welcome</p><script>for (;;) {}</script>")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="<p>Oops</p>",
                            content_type="text/html")

    app = web.Application()
    app.add_routes([
        web.get("/ok", ok), web.get("/static/app.js", app_js), web.get("/form", form),
        web.get("/missing-bundle", missing_bundle), web.get("/console-error", console_error),
        web.get("/no-button", no_button), web.get("/cookie", cookie), web.get("/slow", slow),
        web.get("/static/slow.js", slow_js), web.get("/hang", hang), web.get("/busy", busy),
        web.get("/status/{code}", status), web.get("/static/errors.js", errors_js),
        web.get("/echo", echo), web.get("/static/echo.js", echo_js), web.get("/spam", spam),
        web.get("/late", late),
    ])
    return app


@contextlib.asynccontextmanager
async def page_server(*, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[PageSite]:
    """Serve the pages above on 127.0.0.1, port 0 (over TLS with ``ssl_context``)."""
    site = PageSite(url="")
    async with http_server(_app(site), ssl_context=ssl_context) as url:
        site.url = url
        yield site
