"""The issue's ``app-transfer`` journey against the fake bank (:mod:`tests.bankapi`): as a
built :class:`Target` and as a configuration file, and the strings that must never be shown.

login → balance (``/api/accounts/{{ account }}/balance``) → transfer, finally cancel.  The
account number is a variable, so it is a secret like the password and what the steps
extract (token, session cookie, transfer id).
"""

from __future__ import annotations

from typing import Any

import yaml

from monitor.config.model import (
    Extract,
    HttpExpect,
    HttpSpec,
    JourneySpec,
    JourneyStep,
    Target,
)
from tests.bankapi import ACCOUNT, PASSWORD, USER, BankApi

# Transfer ids the bank hands out here: recognisable, so a test can look for them.
TRANSFER_PREFIX = "tr-SECRET-"
# What must never reach a log, a metric, /probe or the CLI: the variables, and the fixed
# parts of every token ("tok-N-a9f3e1c7d2"), session ("sess-N-77b0c4") and transfer id.
SECRETS = (PASSWORD, ACCOUNT, USER, "-a9f3e1c7d2", "-77b0c4", TRANSFER_PREFIX)
VARS = {"user": USER, "password": PASSWORD, "account": ACCOUNT}
SCHEMA = {"type": "object", "required": ["balance", "currency"]}


def bank(**kw: Any) -> BankApi:
    """A :class:`BankApi` whose transfer ids are recognisable (see :data:`SECRETS`)."""
    return BankApi(transfer_prefix=TRANSFER_PREFIX, **kw)


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
            step("balance", "/api/accounts/{{ account }}/balance",
                 headers=(("Authorization", "Bearer {{ token }}"),),
                 expect=HttpExpect(json_schema=SCHEMA)),
            step("transfer", "/api/transfers", "POST",
                 json_body={"to": "TEST-ACCT", "amount": "0.01"},
                 extract=(Extract("transfer_id", "json", "$.id"),)),
        ),
        finally_steps=(step("cancel", "/api/transfers/{{ transfer_id }}", "DELETE"),),
        vars=tuple(VARS.items()),
    )
    return Target("app-transfer", "app", "journey", spec, timeout_seconds=10.0)


def journey_document(base: str, *, interval: str = "1d", timeout: str = "10s",
                     balance_step: str = "balance", **target: Any) -> dict[str, Any]:
    """The same journey as a configuration document (``target`` adds or replaces keys of
    the journey target; ``balance_step`` renames the second step)."""
    journey: dict[str, Any] = {
        "name": "app-transfer", "probe": "journey", "interval": interval,
        "timeout": timeout, "vars": dict(VARS),
        "steps": [
            {"name": "login",
             "request": {"method": "POST", "url": f"{base}/api/login",
                         "json": {"user": "{{ user }}", "password": "{{ password }}"}},
             "expect": {"status": [200], "json": {"code": "0"}},
             "extract": {"token": {"json": "$.data.token"}}},
            {"name": balance_step,
             "request": {"url": f"{base}/api/accounts/{{{{ account }}}}/balance",
                         "headers": {"Authorization": "Bearer {{ token }}"}},
             "expect": {"json_schema": SCHEMA}},
            {"name": "transfer",
             "request": {"method": "POST", "url": f"{base}/api/transfers",
                         "json": {"to": "TEST-ACCT", "amount": "0.01"}},
             "extract": {"transfer_id": {"json": "$.id"}}},
        ],
        "finally": [
            {"name": "cancel",
             "request": {"method": "DELETE",
                         "url": f"{base}/api/transfers/{{{{ transfer_id }}}}"}},
        ],
        **target,
    }
    return {"channels": {"app": {"targets": [journey]}}}


def journey_config(base: str) -> str:
    """:func:`journey_document` as a file's text."""
    return dump(journey_document(base))


def dump(document: dict[str, Any]) -> str:
    """A configuration document as YAML text."""
    return yaml.safe_dump(document, sort_keys=False)
