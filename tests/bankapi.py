"""A fake bank API on 127.0.0.1, port 0: the journey tests' and benchmark's target.

Routes (JSON in and out; each belongs to a *step* name used by faults and counters):

=========  ======================================  ==========================================
step       route                                   answer
=========  ======================================  ==========================================
login      ``POST /api/login``                     ``{"user", "password"}`` →
                                                   ``{"code": "0", "data": {"token": T}}``
                                                   and ``Set-Cookie: SESSIONID=...``; 401
                                                   with ``{"code": "1"}`` for wrong ones
balance    ``GET /api/accounts/<acct>/balance``    needs ``Authorization: Bearer T`` and the
                                                   cookie (401 otherwise), 404 for another
                                                   account; ``{"balance": "10.00",
                                                   "currency": "CNY"}``, ``X-Request-Id``
transfer   ``POST /api/transfers``                 needs the cookie; ``{"id": "tr-N"}``
                                                   (``transfer_prefix`` instead of ``tr-``)
cancel     ``DELETE /api/transfers/<id>``          needs the cookie; records the id in
                                                   :attr:`BankApi.cancellations`
logout     ``GET /api/logout``                     ends the session, expires the cookie
=========  ======================================  ==========================================

:attr:`BankApi.faults` makes a step misbehave (:class:`Fault`: a wrong ``status``,
``bad_json``, ``refuse_token`` (401), ``slow`` (answer after ``seconds``), ``close``
(hang up without answering)), for ``times`` requests or for good.  Counters:
:attr:`BankApi.requests` per path, :attr:`BankApi.connections` accepted, and per request
in order its target and Cookie header.
``keep_alive=False`` answers every request with ``Connection: close``; ``drop_idle``
closes each connection right after its response without saying so, as a server whose
keep-alive timeout just expired.

The server is an asyncio protocol over httptools' request parser: a request costs a few
tens of microseconds, so a benchmark measures the client, not this.  :func:`bank_api`
serves in the running loop (tests); :func:`bank_api_in_thread` in a thread of its own;
``python -m tests.bankapi [--no-keep-alive] [--drop-idle]`` in a process of its own,
printing its URL as the first line (a benchmark: a thread would share the GIL, and
``RUSAGE_SELF`` the CPU time, with the client measured).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httptools

LOCALHOST = "127.0.0.1"
USER = "test-customer"
PASSWORD = "s3cret-Passw0rd"
ACCOUNT = "6222020000000001"


@dataclass
class Fault:
    """How a step misbehaves: ``status``, ``bad_json``, ``refuse_token``, ``slow``, ``close``."""

    kind: str
    status: int = 500
    seconds: float = 0.0
    times: int | None = None  # requests it applies to; None: all of them


@dataclass
class BankApi:
    """The server's state: accounts, sessions, faults and counters (see the module doc)."""

    user: str = USER
    password: str = PASSWORD
    account: str = ACCOUNT
    faults: dict[str, Fault] = field(default_factory=dict)
    keep_alive: bool = True
    drop_idle: bool = False
    transfer_prefix: str = "tr-"  # of the ids transfers get: "tr-N"
    port: int = 0
    connections: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    cancellations: list[str] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)  # token -> session id
    tokens_issued: list[str] = field(default_factory=list)
    cookies_seen: list[str | None] = field(default_factory=list)  # Cookie header per request
    targets_seen: list[str] = field(default_factory=list)  # request target (path?query)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{LOCALHOST}:{self.port}"

    def fault(self, step: str) -> Fault | None:
        """The fault to apply to this request of ``step``, counting it down."""
        fault = self.faults.get(step)
        if fault is None:
            return None
        if fault.times is not None:
            if fault.times <= 0:
                return None
            fault.times -= 1
        return fault

    # --- the application: (method, path, headers, body) -> answer ----------------------

    def route(self, method: str, path: str) -> str | None:
        """The step a request belongs to, or None for an unknown route."""
        parts = path.split("?", 1)[0].strip("/").split("/")
        if method == "POST" and parts == ["api", "login"]:
            return "login"
        if method == "GET" and len(parts) == 4 and parts[:2] == ["api", "accounts"] \
                and parts[3] == "balance":
            return "balance"
        if method == "POST" and parts == ["api", "transfers"]:
            return "transfer"
        if method == "DELETE" and len(parts) == 3 and parts[:2] == ["api", "transfers"]:
            return "cancel"
        if method == "GET" and parts == ["api", "logout"]:
            return "logout"
        return None

    def answer(self, step: str | None, path: str, headers: dict[str, str], body: bytes,
               fault: Fault | None) -> tuple[int, list[tuple[str, str]], bytes]:
        """``(status, extra headers, body)`` for a request (``fault`` already drawn)."""
        if step is None:
            return _json(404, {"code": "404"})
        if fault is not None and fault.kind == "status":
            return _json(fault.status, {"code": "9"})
        if fault is not None and fault.kind == "bad_json":
            return 200, [("Content-Type", "application/json")], b"<html>maintenance</html>"
        if fault is not None and fault.kind == "refuse_token":
            return _json(401, {"code": "401"})
        session = _cookie(headers.get("cookie", ""), "SESSIONID")
        if step == "login":
            return self._login(body)
        if step == "balance":
            token = headers.get("authorization", "").removeprefix("Bearer ")
            if session is None or self.sessions.get(token) != session:
                return _json(401, {"code": "401"})
            if path.split("/")[3] != self.account:
                return _json(404, {"code": "404"})
            status, extra, payload = _json(200, {"balance": "10.00", "currency": "CNY"})
            return status, [*extra, ("X-Request-Id", f"req-{next(self._ids)}")], payload
        if session is None or session not in self.sessions.values():
            return _json(401, {"code": "401"})
        if step == "transfer":
            return _json(200, {"id": f"{self.transfer_prefix}{next(self._ids)}"})
        if step == "cancel":
            transfer_id = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[1]
            self.cancellations.append(transfer_id)
            return _json(200, {"cancelled": transfer_id})
        self.sessions = {t: s for t, s in self.sessions.items() if s != session}
        status, extra, payload = _json(200, {"code": "0"})
        return status, [*extra, ("Set-Cookie", "SESSIONID=; Path=/; Max-Age=0")], payload

    def _login(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        try:
            credentials = json.loads(body)
        except ValueError:
            return _json(400, {"code": "400"})
        if not isinstance(credentials, dict) or credentials.get("user") != self.user \
                or credentials.get("password") != self.password:
            return _json(401, {"code": "1"})
        n = next(self._ids)
        token, session = f"tok-{n}-a9f3e1c7d2", f"sess-{n}-77b0c4"
        self.sessions[token] = session
        self.tokens_issued.append(token)
        status, extra, payload = _json(200, {"code": "0", "data": {"token": token}})
        cookie = f"SESSIONID={session}; Path=/; HttpOnly"
        return status, [*extra, ("Set-Cookie", cookie)], payload


def _json(status: int, document: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json")], json.dumps(document).encode()


def _cookie(header: str, name: str) -> str | None:
    for pair in header.split(";"):
        key, eq, value = pair.strip().partition("=")
        if eq and key == name and value:
            return value
    return None


class _Connection(asyncio.Protocol):
    """One client connection: parse requests with httptools, answer them in turn."""

    def __init__(self, api: BankApi, tasks: set[asyncio.Task[None]],
                 live: set[_Connection]) -> None:
        self.api = api
        self.tasks = tasks
        self.live = live
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.api.connections += 1
        self.live.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.live.discard(self)

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        api = self.api
        method = self.parser.get_method().decode()
        path = self.url.decode("latin-1")
        keep = self.parser.should_keep_alive() and api.keep_alive
        api.requests[path.split("?", 1)[0]] += 1
        api.cookies_seen.append(self.headers.get("cookie"))
        api.targets_seen.append(path)
        step = api.route(method, path)
        fault = api.fault(step) if step is not None else None
        if fault is not None and fault.kind == "close":
            if self.transport is not None:
                self.transport.close()
            return
        answer = api.answer(step, path, self.headers, b"".join(self.body), fault)
        if fault is not None and fault.kind == "slow":
            task = asyncio.get_running_loop().create_task(
                self._later(fault.seconds, answer, keep))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            self._send(answer, keep)

    async def _later(self, seconds: float, answer: tuple[int, list[tuple[str, str]], bytes],
                     keep: bool) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(seconds)
            self._send(answer, keep)

    def _send(self, answer: tuple[int, list[tuple[str, str]], bytes], keep: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        status, extra, payload = answer
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
                 f"Content-Length: {len(payload)}"]
        lines += [f"{name}: {value}" for name, value in extra]
        if not keep:
            lines.append("Connection: close")
        transport.write("\r\n".join(lines).encode() + b"\r\n\r\n" + payload)
        if not keep or self.api.drop_idle:
            transport.close()


@contextlib.asynccontextmanager
async def bank_api(api: BankApi | None = None) -> AsyncIterator[BankApi]:
    """Serve ``api`` (a fresh :class:`BankApi` by default) in the running loop."""
    api = api or BankApi()
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    live: set[_Connection] = set()
    server = await loop.create_server(lambda: _Connection(api, tasks, live), LOCALHOST, 0)
    api.port = server.sockets[0].getsockname()[1]
    try:
        yield api
    finally:
        server.close()
        for protocol in list(live):
            if protocol.transport is not None:
                protocol.transport.abort()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@contextlib.contextmanager
def bank_api_in_thread(api: BankApi | None = None) -> Iterator[BankApi]:
    """Serve ``api`` from a thread with its own event loop; stop it on exit."""
    api = api or BankApi()
    ready = threading.Event()
    stop: list[asyncio.Future[None]] = []
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        async with bank_api(api):
            stop.append(loop.create_future())
            ready.set()
            await stop[0]

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield api
    finally:
        loop.call_soon_threadsafe(stop[0].set_result, None)
        thread.join(10)
        loop.close()


def main() -> None:
    """Serve until interrupted; print the base URL first (see the module doc)."""
    parser = argparse.ArgumentParser(description="the fake bank API of the journey tests")
    parser.add_argument("--no-keep-alive", action="store_true")
    parser.add_argument("--drop-idle", action="store_true")
    args = parser.parse_args()

    async def serve() -> None:
        api = BankApi(keep_alive=not args.no_keep_alive, drop_idle=args.drop_idle)
        async with bank_api(api):
            print(api.url, flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
