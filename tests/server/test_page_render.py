# ruff: noqa: RUF001  (the page writes burn rates with the multiplication sign)
"""The status page's pure renderer over a contract-shaped status document.

The page is parsed back with the standard library's HTML parser, so the checks are on
elements and text, not on incidental markup.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from monitor.server.page import render_page
from monitor.server.page.bars import BAR_STATES, cell_title, uptime_bar
from monitor.server.page.i18n import EN, ZH, choose_language, from_accept_language, words
from tests.server.page_fixture import NOW, status_document


class Page(HTMLParser):
    """Every element with its attributes and the text inside it."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.texts).append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements
                if t == tag and all(a.get(k.rstrip("_").replace("_", "-")) == v
                                    for k, v in attrs.items())]


def page(doc: dict[str, Any] | None = None, lang: str = "en") -> Page:
    return Page(render_page(status_document() if doc is None else doc, lang))


def card(channel: str) -> Page:
    """One channel's card of the fixture's page, alone."""
    html = render_page(status_document(), "en").split(f'data-channel="{channel}"')[1]
    return Page(html.split("</article>")[0])


def test_every_channel_with_its_state() -> None:
    p = page()
    cards = {a["data-channel"]: a["data-state"] for a in p.find("article")}
    assert cards == {"app": "down", "website": "up", "miniprogram": "degraded",
                     "branch": "closed"}
    # The state is written as a word and a glyph, not told by colour alone.
    assert "✕ down" in p.text
    assert "◐ degraded" in p.text
    assert "☾ closed" in p.text


def test_slo_figures() -> None:
    text = page().text
    assert "99.912% ✓ met objective 99.9%" in text
    assert "12.0%" in text  # budget left
    assert "1h 14.9×" in text
    assert "page (fast burn)" in text
    assert "mon-sat 09:00-17:00 Asia/Shanghai" in text


def test_budget_may_be_negative() -> None:
    doc = status_document()
    doc["channels"][0]["availability"].update(sli=0.9978, budget_remaining=-1.2,
                                              status="exhausted")
    text = page(doc).text
    assert "99.780% ✕ missed" in text
    assert "-120.0%" in text
    assert "budget exhausted" in text


def test_unknown_values_read_no_data_never_zero() -> None:
    p = page()
    mini = card("miniprogram").text
    assert "Availability no data" in mini
    assert "Error budget left no data" in mini
    assert "5m no data" in mini
    assert "0.000%" not in mini
    assert "0.0×" not in mini
    # A consistency run that failed: its counts are unknown, and the error is shown.
    assert "source: connection refused" in p.text
    # A flow-time percentile without runs.
    assert "p99 ≤ 4.00 s: no data no data" in p.text


def test_absent_history_is_no_data_not_all_clear() -> None:
    doc = status_document()
    doc["alerts"] = None
    doc["incidents"] = None
    doc["channels"][0]["uptime"] = None
    doc["channels"][0]["availability"] = None
    doc["store"] = {"ok": False, "error": "store unavailable: connect"}
    text = page(doc).text
    assert "No alert is firing." not in text
    assert "No incident in the last 7 days." not in text
    assert "History unavailable: store unavailable: connect" in text
    assert "Last 48 hours (per hour) no data" in text


def test_excluded_hours_are_their_own_state_never_red() -> None:
    p = page()
    branch = card("branch")
    cells = [a["class"] for a in branch.find("span") if "cell" in a.get("class", "")]
    assert cells.count("cell c-excluded") == 32 + 12
    assert "cell c-down" not in cells
    assert "cell c-partial" not in cells
    bar = branch.find("div", role="img")[0]
    assert bar["aria-label"] == ("Last 48 hours (per hour): 16 all good, "
                                 "32 excluded (maintenance or closed)")
    # The legend names every cell state, the excluded one included.
    legend = p.text.split("Legend:")[1]
    for state in BAR_STATES:
        assert EN[f"bar.{state}"] in legend


def test_cell_tooltip_has_the_numbers() -> None:
    cell = {"start": NOW - 3600, "good": 118, "total": 120, "excluded": 2,
            "state": "partial"}
    assert cell_title(EN, cell, daily=False) == (
        "2025-12-02 03:00 UTC · some failures · 118 of 120 good · 2 excluded")
    assert cell_title(EN, {**cell, "state": "bogus"}, daily=True).startswith(
        "2025-12-02 · no data")


def test_bar_has_one_cell_per_bin() -> None:
    doc = status_document()
    hourly = doc["channels"][0]["uptime"]["hourly"]
    daily = doc["channels"][0]["uptime"]["daily"]
    assert len(hourly) == 48
    assert len(daily) == 90
    assert Page(uptime_bar(EN, hourly, "uptime_48h", False)).find(
        "div", role="img")[0]["style"] == "--cells:48"
    assert len([a for a in Page(uptime_bar(EN, daily, "uptime_90d", True)).find("span")
                if a["class"].startswith("cell")]) == 90


def test_targets_open_their_detail() -> None:
    links = {a["data-target"]: a["href"] for a in page().find("a")
             if "data-target" in a}
    assert links["app-api"] == "/api/v1/targets/app-api"
    assert set(links) >= {"app-api", "app-login", "app-transfer", "web-home", "mini-api",
                          "core-gateway"}


def test_sections() -> None:
    text = page().text
    assert "app-transfer app ✓ up 1.80 s" in text
    assert "p95 ≤ 3.00 s: 2.10 s ✓ met" in text
    assert "All datasets: 98.70% ✕ missed (objective 99%)" in text
    assert "app 98.10% ✕ missed full 1,000 19 0 0 3 phone" in text
    assert "website 99.50% ✓ met checksum" in text
    assert "TargetDown" in text
    assert "app-api is down (status_code)" in text
    assert "core upgrade branch 2025-12-02 18:26 UTC 2025-12-02 21:13 UTC upcoming" in text
    assert "✕ down ongoing" in text  # the open incident
    assert "10 min timeout" in text  # the closed one lasted 600 s


def test_empty_lists_say_so() -> None:
    doc = status_document()
    doc.update(alerts=[], maintenance=[], incidents=[], journeys=[])
    doc["consistency"]["datasets"] = []
    text = page(doc).text
    for sentence in ("No alert is firing.", "No maintenance in the next 7 days.",
                     "No incident in the last 7 days.", "No journeys configured.",
                     "No consistency checks configured."):
        assert sentence in text


def test_chinese() -> None:
    p = page(lang="zh")
    assert p.find("html")[0]["lang"] == "zh-Hans"
    text = p.text
    for word in ("渠道状态", "可用率", "剩余错误预算", "故障", "非服务时间", "数据一致性",
                 "正在触发的告警", "近期故障", "差异最多的字段", "无数据"):
        assert word in text, word
    assert "Availability" not in text
    # The switch names both languages, and marks the current one.
    current = [a for a in p.find("a") if a.get("aria-current") == "true"]
    assert [a["href"] for a in current] == ["?lang=zh"]


def test_word_tables_have_the_same_keys() -> None:
    assert set(EN) == set(ZH)
    for key, text in EN.items():
        # The same placeholders in both languages (their order may differ).
        assert sorted(re.findall(r"{\w+}", text)) == sorted(re.findall(r"{\w+}", ZH[key])), key


def test_the_script_gets_the_words() -> None:
    p = page(lang="zh")
    table = json.loads(next(s for s in p.scripts if "detail_title" in s))
    assert table == dict(words("zh"))


HOSTILE = '<script>alert("x")</script>&"\'<img src=x onerror=alert(1)>'


def test_everything_is_escaped() -> None:
    doc = status_document()
    doc["channels"][0]["name"] = HOSTILE
    doc["targets"][0].update(name=HOSTILE, reason=HOSTILE, kind=HOSTILE, channel=HOSTILE)
    doc["alerts"][0].update(summary=HOSTILE, alertname=HOSTILE, target=HOSTILE)
    doc["consistency"]["datasets"][0]["name"] = HOSTILE
    doc["consistency"]["datasets"][0]["channels"][0].update(worst_field=HOSTILE,
                                                             error=HOSTILE)
    doc["maintenance"][0]["name"] = HOSTILE
    doc["incidents"][0]["reason"] = HOSTILE
    doc["channels"][0]["service_hours"] = HOSTILE
    doc["version"] = HOSTILE
    doc["state"] = HOSTILE
    html = render_page(doc, "en")
    p = Page(html)
    # Only the page's own scripts and no injected image exist.
    assert [a.get("src") for a in p.find("script")] == ["/assets/status.js", None]
    assert p.find("img") == []
    assert "<script>alert" not in html
    assert HOSTILE in p.text  # shown, as text
    # Attribute values are quoted and escaped too.
    assert any(a.get("data-target") == HOSTILE for a in p.find("a"))
    assert any(a.get("href", "").startswith("/api/v1/targets/%3Cscript%3E")
               for a in p.find("a"))


def test_words_json_cannot_close_its_script() -> None:
    # The word table is fixed, but what it carries must never end its <script> early.
    html = render_page(status_document(), "en")
    block = html.split('<script type="application/json" id="words">')[1]
    assert block.index("</script>") == len(block.split("</script>")[0])
    assert "<" not in block.split("</script>")[0]


def test_same_input_same_page() -> None:
    assert render_page(status_document(), "en") == render_page(status_document(), "en")


def test_no_external_resources() -> None:
    html = render_page(status_document(), "en")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


@pytest.mark.parametrize(("query", "cookie", "header", "expected"), [
    (None, None, None, "en"),
    (None, None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    (None, None, "en-US,en;q=0.9,zh;q=0.8", "en"),
    (None, None, "fr-FR, zh;q=0.5, en;q=0.4", "zh"),
    (None, None, "fr", "en"),
    (None, None, "zh;q=0, en", "en"),
    (None, "zh", "en", "zh"),
    ("en", "zh", "zh", "en"),
    ("xx", "zh", "en", "zh"),
    ("zh-TW", None, None, "zh"),
])
def test_choose_language(query: str | None, cookie: str | None, header: str | None,
                         expected: str) -> None:
    assert choose_language(query, cookie, header) == expected


def test_accept_language_garbage() -> None:
    assert from_accept_language(";;,q=,zh;q=abc") is None


@pytest.mark.parametrize(("severity", "en", "zh", "tone"), [
    ("page", "page", "紧急", "t-bad"), ("ticket", "ticket", "工单", "t-warn"),
    ("warning", "warning", "警告", "t-warn"), ("info", "info", "提示", "t-none"),
])
def test_alert_severities_in_both_languages(severity: str, en: str, zh: str,
                                            tone: str) -> None:
    doc = status_document()
    doc["alerts"] = [{**doc["alerts"][0], "severity": severity}]
    for lang, word in (("en", en), ("zh", zh)):
        html = render_page(doc, lang).split('id="alerts"')[1].split("</section>")[0]
        (cell,) = [a for t, a in Page(html).elements
                   if t == "span" and a.get("data-state") == severity]
        assert tone in cell["class"]
        assert f"</span> {word}</span>" in html, (lang, severity)


def test_a_ratio_short_of_its_objective_never_reads_as_meeting_it() -> None:
    doc = status_document()
    doc["channels"][0]["availability"].update(sli=0.9989996, objective=0.999)
    doc["consistency"]["datasets"][0]["channels"][0]["ratio"] = 0.98996
    text = page(doc).text
    assert "99.899% ✕ missed" in text
    assert "98.99% ✕ missed" in text
    # Exact values keep their digits (no binary error shows as one less).
    doc["channels"][0]["availability"].update(sli=0.999, budget_remaining=0.29)
    text = page(doc).text
    assert "99.900% ✓ met" in text
    assert "29.0%" in text


def test_maintenance_says_what_each_window_covers() -> None:
    doc = status_document()
    window = {"starts_at": NOW + 600, "ends_at": NOW + 1200, "active": False}
    doc["maintenance"] = [
        {**window, "name": "core upgrade", "channels": ["branch"], "targets": []},
        {**window, "name": "db failover", "channels": [], "targets": ["app-api", "web-home"]},
        {**window, "name": "network", "channels": [], "targets": []},
    ]
    rows = [" ".join(r.split()) for r in render_page(doc, "en").split('id="maintenance"')[1]
            .split("<tbody>")[1].split("</tr>")[:3]]
    assert "<td>core upgrade</td><td>branch</td>" in rows[0]
    assert "<td>db failover</td><td>app-api, web-home</td>" in rows[1]
    assert "<td>network</td><td>every channel</td>" in rows[2]
    assert "<td>network</td><td>所有渠道</td>" in render_page(doc, "zh")


def test_reasons_in_the_readers_language() -> None:
    doc = status_document()
    doc["targets"][0]["reason"] = "http_status"
    doc["incidents"][1]["reason"] = "timeout"
    zh = render_page(doc, "zh")
    assert '<span title="http_status">HTTP 状态码异常</span>' in zh
    assert '<span title="timeout">超时</span>' in zh
    en = render_page(doc, "en")
    # English shows the codes themselves, as the metrics and alerts name them.
    assert "<td>http_status</td>" in en
    assert "<td>timeout</td>" in en
    # A reason the tables do not know is shown as it is, escaped.
    doc["targets"][0]["reason"] = "<new_reason>"
    assert "<td>&lt;new_reason&gt;</td>" in render_page(doc, "zh")


def test_every_probe_reason_has_words() -> None:
    from probes.result import REASONS

    for reason in REASONS:
        assert EN[f"reason.{reason}"] == reason
        assert ZH[f"reason.{reason}"] != reason


def test_no_blank_consistency_objective_without_a_check() -> None:
    doc = status_document()
    assert "Consistency objective 99% · window 30d" in page(doc).text
    doc["objectives"]["consistency"] = None
    text = page(doc).text
    assert "Availability objective 99.9% · window 30d" in text
    assert "Consistency objective" not in text


def test_service_days_and_consistency_modes_in_the_readers_language() -> None:
    zh = page(lang="zh").text
    assert "周一-周六 09:00-17:00 Asia/Shanghai" in zh
    assert "mon-sat" not in zh
    zh_html = render_page(status_document(), "zh")
    assert '<span title="full">全量</span>' in zh_html
    assert '<span title="checksum">校验和</span>' in zh_html
    en = page().text
    assert "mon-sat 09:00-17:00 Asia/Shanghai" in en
    assert "per UTC day" in en  # the daily bars are UTC days, and say so
