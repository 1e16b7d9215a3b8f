# ruff: noqa: RUF001  (full-width punctuation is correct in the Chinese table)
"""The status page's words in English and Simplified Chinese, and the choice between them.

One table per language with the same keys (a test holds them equal), so a missing
translation fails a test instead of showing a key.  The language is chosen from
``?lang=``, then the cookie the page's switch sets, then ``Accept-Language``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

LANGUAGES: Final = ("en", "zh")
DEFAULT_LANGUAGE: Final = "en"
COOKIE: Final = "omniwatch_lang"
# How each language names itself on the switch, and its BCP 47 tag for <html lang>.
LANGUAGE_NAMES: Final[Mapping[str, str]] = {"en": "English", "zh": "简体中文"}
HTML_LANG: Final[Mapping[str, str]] = {"en": "en", "zh": "zh-Hans"}

EN: Final[Mapping[str, str]] = {
    "title": "omniwatch status",
    "heading": "Channel status",
    "overall": "Overall",
    "generated": "Updated",
    "version": "omniwatch",
    "language": "Language",
    "no_data": "no data",
    "objective": "objective",
    "window": "window",
    "channels": "Channels",
    "targets": "Targets",
    "availability": "Availability",
    "budget": "Error budget left",
    "burn": "Burn rate",
    "slo_status": "SLO",
    "service_hours": "Service hours",
    "always_open": "always open",
    "uptime_48h": "Last 48 hours (per hour)",
    "uptime_90d": "Last 90 days (per UTC day)",
    "legend": "Legend",
    "good_of": "{good} of {total} good",
    "excluded_n": "{n} excluded",
    "target": "Target",
    "kind": "Kind",
    "state": "State",
    "reason": "Reason",
    "since": "Since",
    "last_run": "Last run",
    "latency": "Latency",
    "no_targets": "No targets.",
    "details": "Details",
    "journeys": "Journeys",
    "journey": "Journey",
    "last_duration": "Last flow time",
    "flow_objectives": "Flow-time objectives",
    "no_journeys": "No journeys configured.",
    "met": "met",
    "missed": "missed",
    "consistency": "Consistency",
    "dataset": "Dataset",
    "reference": "reference",
    "channel": "Channel",
    "ratio": "Ratio",
    "mode": "Mode",
    "judged": "Judged",
    "inconsistent": "Inconsistent",
    "missing": "Missing",
    "extra": "Extra",
    "pending": "Pending sync",
    "worst_field": "Field disagreeing most",
    "error": "Error",
    "no_datasets": "No consistency checks configured.",
    "all_datasets": "All datasets",
    "alerts": "Firing alerts",
    "no_alerts": "No alert is firing.",
    "alertname": "Alert",
    "severity": "Severity",
    "summary": "Summary",
    "maintenance": "Maintenance",
    "no_maintenance": "No maintenance in the next 7 days.",
    "window_name": "Window",
    "applies_to": "Applies to",
    "everything": "every channel",
    "starts": "Starts",
    "ends": "Ends",
    "active": "in progress",
    "upcoming": "upcoming",
    "incidents": "Recent incidents",
    "no_incidents": "No incident in the last 7 days.",
    "started": "Started",
    "ended": "Ended",
    "ongoing": "ongoing",
    "duration": "Duration",
    "detail_title": "Target detail",
    "close": "Close",
    "loading": "Loading…",
    "load_failed": "Could not load the detail",
    "last_result": "Last result",
    "success": "success",
    "failure": "failure",
    "message": "Detail",
    "phases": "Phases",
    "status_code": "Status code",
    "cert_expiry": "Certificate expires",
    "finished_at": "Finished",
    "interval": "Interval",
    "timeout": "Timeout",
    "p50": "p50",
    "p95": "p95",
    "steps": "Steps",
    "refresh_failed": "Refresh failed; showing the last data",
    "store_error": "History unavailable",
    "noscript": "Without JavaScript this page does not refresh itself: reload it to update.",
    "ago": "{t} ago",
    "in": "in {t}",
    "unit.ms": "{n} ms",
    "unit.s": "{n} s",
    "unit.min": "{n} min",
    "unit.h": "{n} h",
    "unit.d": "{n} d",
    # Channel and target states.
    "state.up": "up",
    "state.degraded": "degraded",
    "state.down": "down",
    "state.maintenance": "maintenance",
    "state.closed": "closed",
    "state.unknown": "unknown",
    "state.pending": "pending",
    # Uptime bar states.
    "bar.up": "all good",
    "bar.partial": "some failures",
    "bar.down": "all failed",
    "bar.excluded": "excluded (maintenance or closed)",
    "bar.none": "no data",
    # SLO statuses.
    "slo.ok": "ok",
    "slo.ticket": "ticket (slow burn)",
    "slo.page": "page (fast burn)",
    "slo.exhausted": "budget exhausted",
    "slo.no_data": "no data",
    # Alert severities (the rules' severity label).
    "severity.page": "page",
    "severity.ticket": "ticket",
    "severity.warning": "warning",
    "severity.info": "info",
    # Day names of service hours, and consistency modes: English shows the config's word.
    "day.mon": "mon", "day.tue": "tue", "day.wed": "wed", "day.thu": "thu",
    "day.fri": "fri", "day.sat": "sat", "day.sun": "sun",
    "mode.full": "full", "mode.checksum": "checksum", "mode.sample": "sample",
    "mode.incremental": "incremental",
    # Probe reasons (probes.result.REASONS): English shows the code itself, as the
    # metrics' reason label and the alerts name it.
    "reason.ok": "ok",
    "reason.timeout": "timeout",
    "reason.dns": "dns",
    "reason.connect_refused": "connect_refused",
    "reason.connect_error": "connect_error",
    "reason.tls": "tls",
    "reason.http_status": "http_status",
    "reason.body_mismatch": "body_mismatch",
    "reason.schema_mismatch": "schema_mismatch",
    "reason.too_large": "too_large",
    "reason.protocol": "protocol",
    "reason.extract_failed": "extract_failed",
    "reason.console_error": "console_error",
    "reason.request_failed": "request_failed",
    "reason.browser_error": "browser_error",
}

ZH: Final[Mapping[str, str]] = {
    "title": "omniwatch 状态",
    "heading": "渠道状态",
    "overall": "总体",
    "generated": "更新于",
    "version": "omniwatch",
    "language": "语言",
    "no_data": "无数据",
    "objective": "目标",
    "window": "窗口",
    "channels": "渠道",
    "targets": "监测目标",
    "availability": "可用率",
    "budget": "剩余错误预算",
    "burn": "消耗速率",
    "slo_status": "SLO",
    "service_hours": "服务时间",
    "always_open": "全天开放",
    "uptime_48h": "最近 48 小时（按小时）",
    "uptime_90d": "最近 90 天（按 UTC 日）",
    "legend": "图例",
    "good_of": "{total} 次中 {good} 次正常",
    "excluded_n": "{n} 次不计入",
    "target": "目标",
    "kind": "类型",
    "state": "状态",
    "reason": "原因",
    "since": "起始",
    "last_run": "最近运行",
    "latency": "耗时",
    "no_targets": "没有监测目标。",
    "details": "详情",
    "journeys": "业务流程",
    "journey": "流程",
    "last_duration": "最近流程耗时",
    "flow_objectives": "流程耗时目标",
    "no_journeys": "未配置业务流程。",
    "met": "达标",
    "missed": "未达标",
    "consistency": "数据一致性",
    "dataset": "数据集",
    "reference": "基准",
    "channel": "渠道",
    "ratio": "一致率",
    "mode": "模式",
    "judged": "已比对",
    "inconsistent": "不一致",
    "missing": "缺失",
    "extra": "多余",
    "pending": "待同步",
    "worst_field": "差异最多的字段",
    "error": "错误",
    "no_datasets": "未配置一致性检查。",
    "all_datasets": "全部数据集",
    "alerts": "正在触发的告警",
    "no_alerts": "没有正在触发的告警。",
    "alertname": "告警",
    "severity": "级别",
    "summary": "摘要",
    "maintenance": "维护窗口",
    "no_maintenance": "未来 7 天没有维护。",
    "window_name": "窗口",
    "applies_to": "范围",
    "everything": "所有渠道",
    "starts": "开始",
    "ends": "结束",
    "active": "进行中",
    "upcoming": "即将开始",
    "incidents": "近期故障",
    "no_incidents": "最近 7 天没有故障。",
    "started": "开始",
    "ended": "结束",
    "ongoing": "未恢复",
    "duration": "时长",
    "detail_title": "目标详情",
    "close": "关闭",
    "loading": "加载中…",
    "load_failed": "无法加载详情",
    "last_result": "最近结果",
    "success": "成功",
    "failure": "失败",
    "message": "说明",
    "phases": "各阶段耗时",
    "status_code": "状态码",
    "cert_expiry": "证书到期",
    "finished_at": "完成于",
    "interval": "间隔",
    "timeout": "超时",
    "p50": "p50",
    "p95": "p95",
    "steps": "步骤",
    "refresh_failed": "刷新失败，显示的是上次的数据",
    "store_error": "历史数据不可用",
    "noscript": "未启用 JavaScript 时本页不会自动刷新，请手动重新加载。",
    "ago": "{t}前",
    "in": "{t}后",
    "unit.ms": "{n} 毫秒",
    "unit.s": "{n} 秒",
    "unit.min": "{n} 分钟",
    "unit.h": "{n} 小时",
    "unit.d": "{n} 天",
    "state.up": "正常",
    "state.degraded": "性能下降",
    "state.down": "故障",
    "state.maintenance": "维护中",
    "state.closed": "非服务时间",
    "state.unknown": "未知",
    "state.pending": "等待结果",
    "bar.up": "全部正常",
    "bar.partial": "部分失败",
    "bar.down": "全部失败",
    "bar.excluded": "不计入（维护或非服务时间）",
    "bar.none": "无数据",
    "slo.ok": "正常",
    "slo.ticket": "工单（缓慢消耗）",
    "slo.page": "告警（快速消耗）",
    "slo.exhausted": "预算耗尽",
    "slo.no_data": "无数据",
    "severity.page": "紧急",
    "severity.ticket": "工单",
    "severity.warning": "警告",
    "severity.info": "提示",
    "reason.ok": "正常",
    "reason.timeout": "超时",
    "reason.dns": "域名解析失败",
    "reason.connect_refused": "连接被拒绝",
    "reason.connect_error": "连接错误",
    "reason.tls": "TLS 错误",
    "reason.http_status": "HTTP 状态码异常",
    "reason.body_mismatch": "响应内容不符",
    "reason.schema_mismatch": "响应结构不符",
    "reason.too_large": "响应过大",
    "reason.protocol": "协议错误",
    "reason.extract_failed": "提取失败",
    "reason.console_error": "页面控制台错误",
    "reason.request_failed": "请求失败",
    "reason.browser_error": "浏览器错误",
    "day.mon": "周一", "day.tue": "周二", "day.wed": "周三", "day.thu": "周四",
    "day.fri": "周五", "day.sat": "周六", "day.sun": "周日",
    "mode.full": "全量", "mode.checksum": "校验和", "mode.sample": "抽样",
    "mode.incremental": "增量",
}

TABLES: Final[Mapping[str, Mapping[str, str]]] = {"en": EN, "zh": ZH}


def supported(tag: str) -> str | None:
    """``zh-CN`` → ``zh``, ``en-GB`` → ``en``; None for a language the page lacks.

    Traditional Chinese (``zh-TW``, ``zh-Hant``) is not offered: Simplified is closer than
    English for its readers, so it maps to ``zh`` too.
    """
    primary = tag.strip().lower().split("-", 1)[0]
    return primary if primary in TABLES else None


def from_accept_language(header: str) -> str | None:
    """The supported language ``Accept-Language`` ranks highest, or None."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = supported(tag)
        if lang is not None and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else None


def choose_language(query: str | None, cookie: str | None, accept_language: str | None
                    ) -> str:
    """The page's language: ``?lang=``, else the switch's cookie, else the browser's
    ``Accept-Language``, else English.  Unknown values are ignored, not errors."""
    for explicit in (query, cookie):
        if explicit and (lang := supported(explicit)) is not None:
            return lang
    return from_accept_language(accept_language or "") or DEFAULT_LANGUAGE


def words(lang: str) -> Mapping[str, str]:
    """The table for ``lang`` (English for an unknown one)."""
    return TABLES.get(lang, EN)
