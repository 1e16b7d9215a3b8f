"""The annotation formatters: bounded, one line, never rounding up to an objective."""

from __future__ import annotations

from alerts.annotate import (
    alert_labels,
    annotation_set,
    budget_text,
    cut,
    duration_text,
    names_text,
    objective_text,
    percent,
)


def test_cut_keeps_short_text_and_cuts_long_text_on_a_word() -> None:
    assert cut("timed out\n  after 5s") == "timed out after 5s"
    text = "alpha " * 100
    got = cut(text, 40)
    assert len(got) <= 40
    assert got == "alpha alpha alpha alpha alpha alpha…"
    assert cut("x" * 500, 300) == "x" * 299 + "…"  # one long word: cut mid-word


def test_percentages_and_durations() -> None:
    assert percent(0.99123) == "99.12%"
    assert percent(0.984) == "98.40%"
    assert percent(0.989999) == "98.99%"  # down, never up to the 99% objective
    assert percent(1.0) == "100.00%"
    assert (objective_text(0.999), objective_text(0.99), objective_text(0.9995)) == (
        "99.9%", "99%", "99.95%")
    assert (budget_text(0.37), budget_text(-0.125), budget_text(0.0)) == (
        "37.0%", "-12.5%", "0.0%")
    assert [duration_text(s) for s in (42, 420, 3 * 3600 + 720, 13 * 86400 + 4 * 3600 + 7,
                                       -5)] == ["42s", "7m", "3h 12m", "13d 4h", "0s"]


def test_names_keep_their_count_however_long_they_are() -> None:
    assert names_text(["a", "b"]) == "a, b"
    assert names_text([f"t{i}" for i in range(12)]) == (
        "t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, and 2 more")
    long = [f"{'n' * 100}{i}" for i in range(5)]
    text = names_text(long)
    assert len(text) <= 300
    assert text.endswith(", and 3 more")


def test_reserved_labels_come_from_the_rule_and_empty_values_are_dropped() -> None:
    base = (("channel", "x"), ("slo", "y"), ("team", "ops"), ("zone", ""))
    assert alert_labels(base, alertname="A", channel="app", severity="page") == (
        ("alertname", "A"), ("channel", "app"), ("severity", "page"), ("team", "ops"))
    assert annotation_set(summary="s", detail=None, reason="timeout") == (
        ("reason", "timeout"), ("summary", "s"))
