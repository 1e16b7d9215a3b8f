"""A tiny fake bank API for the journey surface tests (CLI, /probe debug), and the
journey target that walks it: login → balance → transfer, finally cancel.

Its token, account and transfer id are recognisable strings, so a test can assert that
none of them (nor the password) ever reaches an output.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from monitor.config.model import (
    Extract,
    HttpExpect,
    HttpSpec,
    JourneySpec,
    JourneyStep,
    Target,
)
from probes.context import ProbeContext

PASSWORD = "pw-SECRET-4242"
TOKEN = "tok-SECRET-7f3a"
TRANSFER_ID = "T-SECRET-0099"
SECRETS = (PASSWORD, TOKEN, TRANSFER_ID)
# Which step the bank breaks: set on the app by a test, "" for none.
BREAK: web.AppKey[list[str]] = web.AppKey("break", list)


def bank_app() -> web.Application:
    """The bank; ``app[BREAK]`` names the steps that answer wrongly."""
    app = web.Application()
    app[BREAK] = []

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("password") != PASSWORD:
            return web.json_response({"code": "9"}, status=401)
        return web.json_response({"code": "0", "data": {"token": TOKEN}})

    async def balance(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "token refused"}, status=401)
        if "balance" in app[BREAK]:
            return web.json_response({"balance": "10.00"})  # currency missing
        return web.json_response({"balance": "10.00", "currency": "CNY"})

    async def transfer(request: web.Request) -> web.Response:
        return web.json_response({"id": TRANSFER_ID})

    async def cancel(request: web.Request) -> web.Response:
        if request.match_info["id"] != TRANSFER_ID:
            return web.json_response({}, status=404)
        return web.json_response({}, status=200)

    app.router.add_post("/api/login", login)
    app.router.add_get("/api/balance", balance)
    app.router.add_post("/api/transfers", transfer)
    app.router.add_delete("/api/transfers/{id}", cancel)
    return app


def journey_target(base: str) -> Target:
    """``app-transfer``: the issue's journey against the bank at ``base``."""
    def step(name: str, url: str, method: str = "GET", *, json_body: object = None,
             headers: tuple[tuple[str, str], ...] = (), expect: HttpExpect | None = None,
             extract: tuple[Extract, ...] = ()) -> JourneyStep:
        request = HttpSpec(url=base + url, method=method, headers=headers,
                           expect=expect or HttpExpect())
        return JourneyStep(name, request, json_body=json_body, extract=extract)
    spec = JourneySpec(
        steps=(
            step("login", "/api/login", "POST",
                 json_body={"user": "{{ user }}", "password": "{{ password }}"},
                 expect=HttpExpect(status=(200,), json={"code": "0"}),
                 extract=(Extract("token", "json", "$.data.token"),)),
            step("balance", "/api/balance",
                 headers=(("Authorization", "Bearer {{ token }}"),),
                 expect=HttpExpect(json_schema={"type": "object",
                                                "required": ["balance", "currency"]})),
            step("transfer", "/api/transfers", "POST",
                 json_body={"to": "TEST-ACCT", "amount": "0.01"},
                 extract=(Extract("transfer_id", "json", "$.id"),)),
        ),
        finally_steps=(step("cancel", "/api/transfers/{{ transfer_id }}", "DELETE"),),
        vars=(("user", "test-customer"), ("password", PASSWORD)),
    )
    return Target("app-transfer", "app", "journey", spec, timeout_seconds=10.0)


CONFIG = """\
channels:
  app:
    targets:
      - name: app-transfer
        probe: journey
        interval: 1d
        timeout: 10s
        vars: {{user: test-customer, password: "{password}"}}
        steps:
          - name: login
            request: {{method: POST, url: "{base}/api/login",
                      json: {{user: "{{{{ user }}}}", password: "{{{{ password }}}}"}}}}
            expect: {{status: [200], json: {{code: "0"}}}}
            extract: {{token: {{json: "$.data.token"}}}}
          - name: balance
            request: {{url: "{base}/api/balance",
                      headers: {{Authorization: "Bearer {{{{ token }}}}"}}}}
            expect: {{json_schema: {{type: object, required: [balance, currency]}}}}
          - name: transfer
            request: {{method: POST, url: "{base}/api/transfers",
                      json: {{to: TEST-ACCT, amount: "0.01"}}}}
            extract: {{transfer_id: {{json: "$.id"}}}}
        finally:
          - name: cancel
            request: {{method: DELETE, url: "{base}/api/transfers/{{{{ transfer_id }}}}"}}
"""


def journey_config(base: str) -> str:
    """The same journey as a configuration file's text."""
    return CONFIG.format(base=base, password=PASSWORD)


def journey_probe_ready() -> bool:
    """Whether ``probes.journey.probe`` is implemented yet (it is written in parallel)."""
    from probes import journey

    target = Target("ready", "app", "journey",
                    JourneySpec((JourneyStep("one", HttpSpec(url="http://127.0.0.1:9/")),)),
                    timeout_seconds=0.5)

    async def once() -> bool:
        try:
            await journey.probe(target, ProbeContext())
        except NotImplementedError:
            return False
        except Exception:  # written, but raising: let the tests show it
            return True
        return True
    return asyncio.run(once())
