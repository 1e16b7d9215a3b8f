"""The Slack payload builder: exact messages for small groups, Slack's limits for huge ones."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from alerts.config import Links
from alerts.model import Notification
from alerts.providers import RenderOptions, slack_text
from alerts.providers import slack_blocks as sb
from tests.alerts.slack_samples import NOW, OPTIONS, notification, snapshot
from tests.slack_server import blocks_problem

CONTEXT = {"type": "context", "elements": [
    {"type": "mrkdwn", "text": "<https://wiki.example/runbooks/TargetDown|Runbook>"},
    {"type": "mrkdwn",
     "text": "<https://grafana.example/d/omniwatch?var-channel=branch|Dashboard>"},
    {"type": "mrkdwn", "text": "<https://omniwatch.example/|omniwatch>"}]}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def texts(msg: sb.SlackMessage) -> list[str]:
    """Every piece of text Slack will show: the fallback, the blocks, their elements."""
    out = [msg.text]
    for block in msg.blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e["text"] for e in block.get("elements", [])]
    return out


def test_a_single_alert_opens_with_every_fact_and_the_links() -> None:
    n = notification(snapshot("core-gateway", severity="page", summary="core-gateway is down",
                              reason="connect_refused", detail="connection refused"))
    msg = sb.message(n, OPTIONS)
    assert msg.text == ("🔴 FIRING: TargetDown · branch · 1 alert\n"
                        "🟥 page · core-gateway · connect_refused · since 19:21 UTC (12m)")
    assert list(msg.blocks) == [
        header("🔴 FIRING: TargetDown · branch · 1 alert"),
        section("🟥 *page* · *core-gateway*\ncore-gateway is down\n"
                "*Reason:* connect_refused — connection refused\n"
                "*Since:* 2024-04-01 19:21 UTC (12m)"),
        CONTEXT]


def test_an_update_reply_lists_the_newly_firing_then_the_resolved() -> None:
    n = notification(snapshot("core-gateway", severity="page", reason="timeout"),
                     snapshot("teller", new=True, reason="timeout", starts_at=NOW - 60),
                     snapshot("atm", status="resolved", reason="timeout"),
                     kind="update", seq=2)
    msg = sb.thread_reply(n, OPTIONS)
    assert msg.text == ("🔴 FIRING: TargetDown · branch · 2 alerts\n"
                        "🟨 warning · teller · timeout · since 19:32 UTC (1m)\n"
                        "✅ warning · atm · timeout · resolved after 12m")
    assert list(msg.blocks) == [
        section("*🔴 FIRING* · TargetDown · branch · 2 alerts"),
        section("*2 firing* (1 new) · *1 resolved* — 🟥 page 1 · 🟨 warning 1\n"
                "*Reasons:* timeout x2"),
        section("🟨 *warning* · *teller*\n*Reason:* timeout\n"
                "*Since:* 2024-04-01 19:32 UTC (1m)"),
        section("✅ *warning* · *atm*\n*Reason:* timeout\n"
                "*Since:* 2024-04-01 19:21 UTC · *resolved after* 12m"),
        CONTEXT]


def test_the_resolved_original_says_for_how_long_and_keeps_the_alerts() -> None:
    n = notification(snapshot("core-gateway", severity="page", status="resolved",
                              reason="timeout", ends_at=NOW - 60), kind="resolved", seq=3)
    msg = sb.resolved_original(n, OPTIONS)
    assert msg.text == ("✅ RESOLVED after 11m: TargetDown · branch · 1 alert\n"
                        "✅ page · core-gateway · timeout · resolved after 11m")
    assert list(msg.blocks) == [
        header("✅ RESOLVED after 11m: TargetDown · branch · 1 alert"),
        section("✅ *page* · *core-gateway*\n*Reason:* timeout\n"
                "*Since:* 2024-04-01 19:21 UTC · *resolved after* 11m"),
        CONTEXT]


def test_an_update_that_does_not_say_what_is_new_lists_resolved_then_all_firing() -> None:
    n = notification(snapshot("a", reason="timeout"), snapshot("b", status="resolved"),
                     kind="update")
    lines = [b["text"]["text"].split("\n")[0] for b in sb.thread_reply(n, OPTIONS).blocks[2:4]]
    assert lines == ["✅ *warning* · *b*", "🟨 *warning* · *a*"]


@pytest.mark.parametrize(("kind", "status"), [
    ("firing", "🔴 FIRING"), ("update", "🔴 FIRING"), ("reminder", "🔁 STILL FIRING"),
    ("test", "🧪 TEST")])
def test_every_kind_says_what_it_is(kind: Any, status: str) -> None:
    n = notification(snapshot("a"), kind=kind)
    assert sb.message(n, OPTIONS).blocks[0]["text"]["text"].startswith(status + ": ")
    assert sb.thread_reply(n, OPTIONS).blocks[0]["text"]["text"].startswith(f"*{status}*")


def test_slo_certificate_consistency_and_outage_facts_are_shown() -> None:
    slo = snapshot("app-api", alertname="SloBurnRate", severity="page", sli="99.12%",
                   objective="99.9%", budget_left="-12.5%",
                   burn_rate="15.2x over 1h, 14.8x over 5m")
    cert = snapshot("web", alertname="CertificateExpiring", severity="ticket",
                    expires_at="2024-04-14T00:00:00Z", expires_in="12d 4h")
    cons = snapshot("", alertname="ConsistencyBelowObjective", severity="ticket",
                    ratio="98.40%", objective="99%", field="risk_level")
    down = snapshot("", alertname="ChannelDown", severity="page", down="12 of 40",
                    reasons="timeout x9, connect_refused x3", targets="a, b, and 10 more")
    n = notification(slo, cert, cons, down, channel="branch")
    body = "\n".join(texts(sb.message(n, OPTIONS)))
    for fact in ("*SLI:* 99.12% (objective 99.9%)", "*Budget left:* -12.5%",
                 "*Burn rate:* 15.2x over 1h, 14.8x over 5m",
                 "*Expires:* 2024-04-14T00:00:00Z (12d 4h)",
                 "*Consistency:* 98.40% (objective 99%) · *Worst field:* risk_level",
                 "*Down:* 12 of 40 · *Reasons:* timeout x9, connect_refused x3",
                 "*Targets:* a, b, and 10 more", "· SloBurnRate", "*branch* · ChannelDown"):
        assert fact in body


def test_alerts_are_listed_worst_first_then_oldest_first() -> None:
    n = notification(snapshot("info", severity="info"), snapshot("odd", severity="odd"),
                     snapshot("warn-new", starts_at=NOW - 10), snapshot("warn-old"),
                     snapshot("ticket", severity="ticket"), snapshot("page", severity="page"),
                     snapshot("gone", severity="page", status="resolved"))
    ordered = [sb._subject(a) for a in sb.worst_first(n.alerts)]
    assert ordered == ["page", "ticket", "warn-old", "warn-new", "info", "odd", "gone"]


def storm(count: int, kind: Any = "firing", status: str = "firing") -> Notification:
    severities = ("page", "ticket", "warning", "info")
    reasons = ("timeout", "connect_refused", "tls", "status")
    long_detail = " ".join(["supercalifragilistic"] * 200)
    return notification(*(snapshot(f"branch-gateway-{i:05d}", severity=severities[i % 4],
                                   status=status, reason=reasons[i % 4], detail=long_detail,
                                   summary=long_detail, starts_at=NOW - 600 - i)
                          for i in range(count)), kind=kind)


VARIANTS: dict[str, Callable[[Notification, RenderOptions], sb.SlackMessage]] = {
    "message": sb.message, "thread_reply": sb.thread_reply,
    "resolved_original": sb.resolved_original}


@pytest.mark.parametrize("count", [1, 5, 6, 1000, 10000])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_message_keeps_within_slack_limits(count: int, variant: str) -> None:
    status = "resolved" if variant == "resolved_original" else "firing"
    msg = VARIANTS[variant](storm(count, status=status), OPTIONS)
    assert blocks_problem(msg.blocks_list()) is None  # what the local Slack refuses
    assert len(msg.blocks) <= sb.MAX_BLOCKS
    assert len(msg.text) <= sb.MAX_TEXT_CHARS
    for block in msg.blocks:
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= sb.MAX_SECTION_CHARS
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= sb.MAX_HEADER_CHARS
    assert len(json.dumps(msg.blocks_list())) < 40000
    for text in texts(msg):  # cut only between words: no piece of a word anywhere
        for word in re.findall(r"super\w*", text):
            assert word == "supercalifragilistic"


@pytest.mark.parametrize(("count", "more"), [(1000, "…and 940 more"),
                                              (10000, "…and 9,940 more")])
def test_a_storm_is_summarised_with_counts_and_the_worst_first(count: int, more: str) -> None:
    msg = sb.message(storm(count), OPTIONS)
    assert msg.blocks[0]["text"]["text"] == f"🔴 FIRING: TargetDown · branch · {count:,} alerts"
    quarter = f"{count // 4:,}"
    assert msg.blocks[1]["text"]["text"] == (
        f"*{count:,} firing* — 🟥 page {quarter} · 🟧 ticket {quarter} · "
        f"🟨 warning {quarter} · 🟦 info {quarter}\n*Reasons:* connect_refused x{quarter} · "
        f"status x{quarter} · timeout x{quarter} · tls x{quarter}")
    lines = "\n".join(b["text"]["text"] for b in msg.blocks[2:-1]).split("\n")
    assert lines[-1] == more
    listed = lines[:-1]
    assert len(listed) == sb.MAX_LISTED
    assert all(line.startswith("🟥 *page*") for line in listed[: sb.MAX_LISTED])
    oldest_page = f"*branch-gateway-{(count - 4) // 4 * 4:05d}*"
    assert oldest_page in listed[0]
    assert msg.text.endswith(f"…and {count - sb.FALLBACK_LISTED:,} more")


def test_links_quote_label_values_and_never_reach_anything_else() -> None:
    links = Links(runbook="https://wiki/r/{alertname}?t={target}&x={missing}",
                  dashboard="https://g/d?c={channel}&a={alertname.__class__}")
    n = notification(snapshot("a b/c&d?e", channel="main st"), snapshot("z", channel="main st"),
                     alertname="TargetDown", channel="main st")
    context = sb.message(n, RenderOptions(links=links)).blocks[-1]
    assert context["elements"] == [
        {"type": "mrkdwn", "text": "<https://wiki/r/TargetDown?t=&amp;x=|Runbook>"},
        {"type": "mrkdwn", "text": "<https://g/d?c=main%20st&amp;a={alertname.__class__}"
                                   "|Dashboard>"}]
    one = notification(snapshot("a b/c&d?e"))
    runbook = sb.message(one, RenderOptions(links=links)).blocks[-1]["elements"][0]["text"]
    assert runbook == "<https://wiki/r/TargetDown?t=a%20b%2Fc%26d%3Fe&amp;x=|Runbook>"


def test_no_credential_or_control_sequence_from_input_reaches_slack() -> None:
    options = RenderOptions(links=Links(runbook="https://bot:hunter2@wiki/{alertname}"),
                            external_url="https://admin:s3cret@omniwatch.example/")
    n = notification(snapshot("<!channel>", reason="<https://evil.example|click> & more",
                              summary="<@U123> <!here>"))
    body = json.dumps([sb.message(n, options).text, sb.message(n, options).blocks_list()])
    for leak in ("hunter2", "s3cret", "<!channel>", "<!here>", "<@U123>", "<https://evil"):
        assert leak not in body
    assert "&lt;!channel&gt;" in body
    assert "<https://wiki/TargetDown|Runbook>" in body


def test_no_message_is_empty_even_without_alerts() -> None:
    msg = sb.message(notification(), OPTIONS)
    assert blocks_problem(msg.blocks_list()) is None
    assert msg.text == "🔴 FIRING: TargetDown · branch · 0 alerts"


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("short", 10, "short"),
    ("alpha beta gamma", 12, "alpha beta…"),
    ("alpha beta gamma", 10, "alpha…"),
    ("unbreakablewordthatistoolong", 10, "…"),
    ("alpha\nbeta gamma", 9, "alpha…"),
])
def test_shorten_cuts_only_between_words(text: str, limit: int, expected: str) -> None:
    assert slack_text.shorten(text, limit) == expected
    assert len(slack_text.shorten(text, limit)) <= limit


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "0s"), (59.9, "59s"), (60, "1m"), (720, "12m"), (3600, "1h"), (3660, "1h 1m"),
    (86400, "1d"), (90000, "1d 1h"), (-5, "0s")])
def test_durations_read_like_people_write_them(seconds: float, expected: str) -> None:
    assert slack_text.format_duration(seconds) == expected
