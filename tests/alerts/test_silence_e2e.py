"""A silence made with the CLI while ``omniwatch run`` runs: the silenced alert is not
posted (an unsilenced one is), and once the silence is expired it is posted at the next
group flush."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.e2e_support import (
    CHANNEL,
    TOKEN_ENV,
    Targets,
    config_doc,
    metric,
    running,
    slack_settings,
    write_config,
)
from tests.procs import run_omniwatch, wait_for
from tests.slack_server import TOKEN, SlackServer

pytestmark = pytest.mark.slow

QUIET_SECONDS = 4.0  # a few evaluations and group flushes (1 s and 2 s)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackServer]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with SlackServer() as server:
        yield server


def cli(*args: str) -> str:
    out = run_omniwatch(*args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_silence_added_with_the_cli_mutes_until_it_is_expired(
        tmp_path: Path, slack: SlackServer) -> None:
    with Targets() as targets:
        cfg = write_config(tmp_path / "omniwatch.yaml", config_doc(
            {"sqlite": str(tmp_path / "omniwatch.db")},
            {"app": [targets.target("app-a")], "web": [targets.target("web-a")]},
            {"slack": slack_settings(slack)}))
        with running(cfg, "silence") as proc:
            added = json.loads(cli("silence", "add", "-c", str(cfg), "--match", "target=app-a",
                                   "--for", "10m", "--reason", "core upgrade CHG-1234",
                                   "--author", "e2e", "--json"))
            assert (added["state"], added["matchers"]) == ("active", ['target="app-a"'])
            targets.fail("app-a", "web-a")
            wait_for(lambda: metric(proc, "omniwatch_alerts", alertname="TargetDown",
                                    severity="warning", state="silenced") == 1, timeout=30)
            wait_for(lambda: slack.messages(CHANNEL), timeout=30)
            time.sleep(QUIET_SECONDS)
            # web-a is posted; app-a, firing as well, is not.
            [web] = slack.posts()
            assert "web-a" in web.text
            assert "app-a" not in json.dumps(web.blocks)
            listed = json.loads(cli("alerts", "list", "-c", str(cfg), "--json"))["alerts"]
            muted = {a["labels"]["target"]: a["muted_by"] for a in listed}
            assert muted == {"app-a": [added["id"]], "web-a": []}

            assert cli("silence", "expire", "-c", str(cfg), added["id"]).strip() == \
                f"silence {added['id']} expired"
            wait_for(lambda: len(slack.posts()) == 2, timeout=30)
            time.sleep(QUIET_SECONDS)
            assert metric(proc, "omniwatch_alerts", alertname="TargetDown", severity="warning",
                          state="firing") == 2
    # The expired silence lets app-a through as an opening post of its own group.
    top = slack.messages(CHANNEL)
    assert [m.ts for m in top] == [m.ts for m in slack.posts()]
    assert "app-a" in top[1].text
    assert "web-a" not in json.dumps(top[1].blocks)
    listed_after = json.loads(cli("silence", "list", "-c", str(cfg), "--all", "--json"))
    assert [s["state"] for s in listed_after["silences"]] == ["expired"]
