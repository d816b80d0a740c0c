"""The Usage page's pure parts: periods, totals, budget, re-pricing rows, figures and tables."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from components import usage_charts
from components.usage_table import csv_bytes, repricing_frame, rows_frame
from core.i18n import t
from core.usage_schema import UsageRow
from core.usage_view import (
    bin_label,
    budget_level,
    cost_by_period,
    day_bounds,
    default_targets,
    histogram_series,
    percent,
    preset_range,
    repricing_rows,
    saving_percent,
    saving_text,
    time_bucket,
    total_in,
)

RATE = 7.2


def convert(amount: float, source: str, target: str) -> float:
    if source == target:
        return amount
    return amount * RATE if source == "USD" else amount / RATE


def test_presets() -> None:
    today = date(2026, 11, 21)
    assert preset_range("today", today) == (today, today)
    assert preset_range("7d", today) == (date(2026, 11, 15), today)
    assert preset_range("30d", today) == (date(2026, 10, 23), today)
    assert preset_range("all", today, date(2025, 1, 2)) == (date(2025, 1, 2), today)
    assert preset_range("all", today) == (today, today)  # nothing recorded yet


def test_day_bounds_cover_whole_local_days() -> None:
    start, end = day_bounds(date(2026, 11, 20), date(2026, 11, 21))
    assert start.tzinfo is not None and end.tzinfo is not None
    assert (start.hour, start.minute, start.date()) == (0, 0, date(2026, 11, 20))
    assert end.date() == date(2026, 11, 22) and end.hour == 0  # end excluded
    assert day_bounds(date(2026, 11, 21), date(2026, 11, 20)) == (start, end)  # picked backwards


def test_totals_and_cost_by_period_convert_each_currency() -> None:
    assert total_in({"CNY": 1.0, "USD": 1.0}, "CNY", convert) == pytest.approx(8.2)
    assert total_in({"CNY": 7.2}, "USD", convert) == pytest.approx(1.0)
    assert total_in({}, "CNY", convert) == 0
    rows = [{"period": "2026-11-21", "model": "gpt-4o", "currency": "USD", "cost": 1.0, "calls": 2},
            {"period": "2026-11-20", "model": "glm-4-plus", "currency": "CNY", "cost": 0.5, "calls": 1},
            {"period": "2026-11-21", "model": "gpt-4o", "currency": None, "cost": 0.0, "calls": 3},
            {"period": "2026-11-21", "model": "gpt-4o", "currency": "CNY", "cost": 0.8, "calls": 1}]
    assert cost_by_period(rows, "CNY", convert) == [
        {"period": "2026-11-20", "model": "glm-4-plus", "cost": 0.5, "calls": 1},
        {"period": "2026-11-21", "model": "gpt-4o", "cost": pytest.approx(8.0), "calls": 6}]


def test_hours_for_short_ranges() -> None:
    day = datetime(2026, 11, 21, tzinfo=UTC)
    assert time_bucket(day, day + timedelta(days=1)) == "hour"
    assert time_bucket(day, day + timedelta(days=2)) == "hour"
    assert time_bucket(day, day + timedelta(days=7)) == "day" and time_bucket(None, None) == "day"
    rows = [{"period": "2026-11-21 14", "model": "m", "currency": "CNY", "cost": 1.0, "calls": 1}]
    assert cost_by_period(rows, "CNY", convert)[0]["period"] == "2026-11-21 14:00"


@pytest.mark.parametrize(("cost", "budget", "level"), [
    (10, None, None), (10, 0, None), (10, 100, None), (80, 100, "near"), (100, 100, "near"),
    (100.01, 100, "over")])
def test_budget_level(cost: float, budget: float | None, level: str | None) -> None:
    assert budget_level(cost, budget) == level


def test_saving_and_repricing_rows() -> None:
    assert saving_percent(10, 2.5) == 75.0 and saving_percent(0, 1) is None
    priced = [{"model": "actual", "cost": 0.1125, "currency": "CNY", "known": True},
              {"model": "gpt-4o", "cost": 0.252, "currency": "CNY", "known": True},
              {"model": "nope", "cost": None, "currency": "CNY", "known": False},
              {"model": "glm-4-flash", "cost": 0.0, "currency": "CNY", "known": True}]
    rows = repricing_rows(priced, "USD", convert)
    assert [r["model"] for r in rows] == ["actual", "gpt-4o", "glm-4-flash", "nope"]
    assert rows[0]["cost"] == pytest.approx(0.1125 / RATE) and rows[0]["saving_pct"] is None
    assert rows[1]["saving_pct"] == pytest.approx(-124.0)
    assert rows[2]["saving_pct"] == pytest.approx(100.0)
    assert rows[3]["cost"] is None and rows[3]["saving_pct"] is None


def test_latency_bins_in_words_and_defaults() -> None:
    assert [bin_label(i) for i in (0, 1, 8, 24)] == ["< 0.05 s", "0.05–0.1 s", "1–1.5 s", "≥ 500 s"]
    labels, counts = histogram_series([{"model": "b", "bin": 9, "count": 2},
                                       {"model": "a", "bin": 7, "count": 1}])
    assert labels == ["0.7–1 s", "1–1.5 s", "1.5–2 s"]  # the empty bin between is kept
    assert counts == {"a": [1, 0, 0], "b": [0, 0, 2]}
    assert histogram_series([]) == ([], {})
    assert default_targets(["glm-4-flash", "gpt-4o", "x"]) == ["gpt-4o", "glm-4-flash"]
    assert percent(0.25) == "25.0%" and percent(None) == "—"


# ---- figures: what the browser is sent ------------------------------------------------------------
def test_cost_figure_stacks_one_trace_per_model() -> None:
    rows = [{"period": "2026-11-20", "model": "b", "cost": 1.0, "calls": 1},
            {"period": "2026-11-21", "model": "a", "cost": 2.0, "calls": 2},
            {"period": "2026-11-21", "model": "b", "cost": 3.0, "calls": 1}]
    fig = usage_charts.cost_over_time(rows, "CNY", "en")
    assert fig.layout.barmode == "stack"
    assert [(tr.name, list(tr.x), list(tr.y)) for tr in fig.data] == [
        ("a", ["2026-11-21"], [2.0]), ("b", ["2026-11-20", "2026-11-21"], [1.0, 3.0])]
    assert "CNY" in fig.layout.title.text


def test_tokens_latency_outcome_and_repricing_figures() -> None:
    tokens = usage_charts.tokens_by_model([
        {"model": "small", "prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        {"model": "big", "prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}], "zh")
    assert [tr.name for tr in tokens.data] == [t("usage.chart.prompt", "zh"),
                                               t("usage.chart.completion", "zh")]
    assert list(tokens.data[0].x) == ["big", "small"] and list(tokens.data[1].y) == [20, 2]
    latency = usage_charts.latency_histogram([{"model": "m", "bin": 5, "count": 3},
                                              {"model": "n", "bin": 4, "count": 1}], "en")
    assert [(tr.name, list(tr.x), list(tr.y)) for tr in latency.data] == [
        ("m", ["0.2–0.3 s", "0.3–0.5 s"], [0, 3]), ("n", ["0.2–0.3 s", "0.3–0.5 s"], [1, 0])]
    assert latency.layout.barmode == "group" and latency.layout.xaxis.type == "category"
    outcomes = usage_charts.outcomes([
        {"outcome": "error", "error_kind": "quota", "error_code": "1113", "count": 1},
        {"outcome": "error", "error_kind": "quota", "error_code": None, "count": 2},
        {"outcome": "ok", "error_kind": None, "error_code": None, "count": 5},
        {"outcome": "stopped", "error_kind": None, "error_code": None, "count": 1}], "en")
    assert list(outcomes.data[0].x) == ["Success", t("error.quota.title", "en"), "Stopped by the user"]
    assert list(outcomes.data[0].y) == [5, 3, 1]
    rows = [{"model": "actual", "cost": 2.0, "saving_pct": None},
            {"model": "glm-4-flash", "cost": 0.5, "saving_pct": 75.0},
            {"model": "nope", "cost": None, "saving_pct": None}]
    fig = usage_charts.repricing(rows, "CNY", "en")
    assert list(fig.data[0].x) == ["Actual", "glm-4-flash"] and list(fig.data[0].y) == [2.0, 0.5]
    assert list(fig.data[0].text) == ["", "saves 75%"]


# ---- tables ---------------------------------------------------------------------------------------
def usage_row(**values: object) -> UsageRow:
    base: dict[str, object] = dict(
        ts=datetime(2026, 11, 21, 8, 30, tzinfo=UTC), session_id="s1", page="chat", backend="zhipu",
        endpoint="zhipu", base_url_host="open.bigmodel.cn", model="glm-4-plus",
        params={"temperature": 0.5}, prompt_tokens=10, completion_tokens=5, total_tokens=15,
        tokens_estimated=False, ttft_s=0.2, latency_s=1.0, streamed=True, outcome="ok", error_kind=None,
        error_code=None, cost=0.000075, currency="CNY", messages_text="你好", id=7)
    base.update(values)
    return UsageRow(**base)  # type: ignore[arg-type]


def test_rows_frame_names_columns_and_csv_keeps_chinese() -> None:
    frame = rows_frame([usage_row()], "zh")
    assert "id" not in frame.columns and t("usage.col.model", "zh") in frame.columns
    assert frame[t("usage.col.params", "zh")][0] == '{"temperature": 0.5}'
    data = csv_bytes([usage_row(), usage_row(model="gpt-4o", id=8)])
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert list(back["model"]) == ["glm-4-plus", "gpt-4o"] and list(back["messages_text"]) == ["你好"] * 2
    assert "id" in back.columns


def test_repricing_frame() -> None:
    frame = repricing_frame([{"model": "actual", "cost": 0.1125, "saving_pct": None},
                             {"model": "glm-4-plus", "cost": 0.0325, "saving_pct": 71.111}], "CNY", "en")
    assert list(frame.columns) == ["Model", "Cost (CNY)", "Saving vs actual"]
    assert frame.iloc[1].tolist() == ["glm-4-plus", 0.0325, "saves 71.1%"]
    assert frame.iloc[0].tolist() == ["Actual", 0.1125, "—"]
    assert saving_text(-124.0, "zh") == "多花 124.0%" and saving_text(0.01, "en") == "the same"
