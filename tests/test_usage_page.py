"""AppTest: the Usage & cost page on a seeded ledger: metrics, filters, charts, re-pricing, CSV, budget."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from backends.registry import BACKENDS
from core.i18n import t
from core.pricing import Price, PriceTable
from core.usage_ledger import clear_ledger_cache
from tests.apptest_helpers import assert_ok, en
from tests.usage_page_helpers import (
    SEED,
    TODAY,
    YESTERDAY,
    chart,
    downloaded,
    metrics,
    record_downloads,
    seed,
    traces,
    usage_page,
    utc_day,
)

RATE = 7.2  # the shipped CNY per USD rate
GPT_USD = 0.0125  # 1000 x 2.5 / 1M + 1000 x 10 / 1M
ALL_CNY = 0.0075 + 0.015 + GPT_USD * RATE  # 0.1125


@pytest.fixture(autouse=True)
def _ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PLAYGROUND_DB_URL", raising=False)
    clear_ledger_cache()
    seed()
    yield
    clear_ledger_cache()


def data_dir() -> Path:
    return Path(os.environ["PLAYGROUND_DATA_DIR"])


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The one st.dataframe on the page with this column (display tables carry no key)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, column
    return found[0]


def test_headline_metrics() -> None:
    at = usage_page()
    assert metrics(at) == {
        "Calls": "4", "Tokens": "6,500", "Cost": "¥0.1125", "Error rate": "25.0%",
        "Latency p50": "2.00 s", "Latency p95": "4.00 s",  # nearest rank of 1, 2, 3, 4 s
        "First token p50": "0.80 s", "First token p95": "1.00 s",  # of 0.5, 0.8, 1.0 s
    }
    assert not at.warning and not at.error
    assert at.title[0].value == en("usage.title")


def test_one_model_changes_metrics_and_charts() -> None:
    at = usage_page()
    assert at.multiselect(key="widget.usage.models").options == ["glm-4-plus", "gpt-4o"]
    at.multiselect(key="widget.usage.models").set_value(["glm-4-plus"]).run()
    assert_ok(at)
    shown = metrics(at)
    assert (shown["Calls"], shown["Tokens"], shown["Cost"], shown["Error rate"]) == (
        "2", "4,500", "¥0.0225", "0.0%")
    assert (shown["Latency p50"], shown["Latency p95"]) == ("2.00 s", "4.00 s")
    assert list(traces(chart(at, "usage.chart.cost"))) == ["glm-4-plus"]
    assert traces(chart(at, "usage.chart.tokens"))[en("usage.chart.prompt")] == {"glm-4-plus": 3000}
    # The choice outlives a visit to the chat (widget keys do not).
    at.switch_page("app_pages/chat.py").run()
    at.switch_page("app_pages/usage.py").run()
    assert metrics(at)["Calls"] == "2"
    assert at.multiselect(key="widget.usage.models").value == ["glm-4-plus"]


def test_backend_filter() -> None:
    at = usage_page()
    labels = [t(BACKENDS[b].label_key, "en") for b in ("openai", "zhipu")]
    assert at.multiselect(key="widget.usage.backends").options == labels
    at.multiselect(key="widget.usage.backends").set_value(["openai"]).run()
    shown = metrics(at)
    assert (shown["Calls"], shown["Error rate"], shown["Cost"]) == ("2", "50.0%", "¥0.0900")


def test_date_presets_and_range() -> None:
    at = usage_page()
    assert at.segmented_control(key="widget.usage.preset").value == "30d"
    at.segmented_control(key="widget.usage.preset").set_value("today").run()
    assert_ok(at)
    assert metrics(at)["Calls"] == "2"
    assert at.date_input(key="widget.usage.range").value == (date.today(), date.today())
    cost = chart(at, "usage.chart.cost")  # one day: by the hour
    hours = {x for tr in cost["data"] for x in tr["x"]}
    assert hours == {TODAY.astimezone(UTC).strftime("%Y-%m-%d %H:00"),
                     (TODAY + timedelta(seconds=1)).astimezone(UTC).strftime("%Y-%m-%d %H:00")}
    assert cost["layout"]["xaxis"]["title"]["text"] == en("usage.chart.period_hour")
    yesterday = date.today() - timedelta(days=1)
    at.date_input(key="widget.usage.range").set_value((yesterday, yesterday)).run()
    assert_ok(at)
    assert metrics(at)["Calls"] == "2" and metrics(at)["Error rate"] == "50.0%"
    assert at.segmented_control(key="widget.usage.preset").value is None  # a hand-picked range
    at.date_input(key="widget.usage.range").set_value((date(2020, 1, 1), date(2020, 1, 2))).run()
    assert [i.value for i in at.info] == [en("usage.no_match")] and not at.metric
    at.segmented_control(key="widget.usage.preset").set_value("all").run()
    assert metrics(at)["Calls"] == "4"


def test_charts_carry_the_per_model_numbers() -> None:
    at = usage_page()
    cost = chart(at, "usage.chart.cost")
    assert cost["layout"]["barmode"] == "stack"
    by_model = traces(cost)
    expected_glm: dict[str, float] = {}
    for row in SEED[:2]:
        day = utc_day(row["ts"])
        expected_glm[day] = expected_glm.get(day, 0) + row["cost"]
    assert by_model["glm-4-plus"] == pytest.approx(expected_glm)
    assert by_model["gpt-4o"][utc_day(TODAY)] == pytest.approx(GPT_USD * RATE)
    assert by_model["gpt-4o"].get(utc_day(YESTERDAY + timedelta(seconds=1)), 0) == 0  # the error
    tokens = traces(chart(at, "usage.chart.tokens"))
    assert tokens == {en("usage.chart.prompt"): {"glm-4-plus": 3000, "gpt-4o": 1000},
                      en("usage.chart.completion"): {"glm-4-plus": 1500, "gpt-4o": 1000}}
    latency = chart(at, "usage.chart.latency")  # glm-4-plus 2 s and 4 s, gpt-4o 1 s and 3 s
    assert traces(latency) == {"glm-4-plus": {"1–1.5 s": 0, "1.5–2 s": 0, "2–3 s": 1, "3–5 s": 1},
                               "gpt-4o": {"1–1.5 s": 1, "1.5–2 s": 0, "2–3 s": 0, "3–5 s": 1}}
    outcomes = chart(at, "usage.chart.outcomes")["data"][0]
    assert dict(zip(outcomes["x"], outcomes["y"], strict=True)) == {
        "Success": 3, en("error.rate_limit.title"): 1}


def test_usd_display_converts_and_is_remembered() -> None:
    at = usage_page()
    at.segmented_control(key="widget.usage.currency").set_value("USD").run()
    assert_ok(at)
    assert metrics(at)["Cost"] == "$0.0156"  # 0.0125 + 0.0225 / 7.2 = 0.015625
    assert traces(chart(at, "usage.chart.cost"))["gpt-4o"][utc_day(TODAY)] == pytest.approx(GPT_USD)
    saved = json.loads((data_dir() / "usage_settings.json").read_text(encoding="utf-8"))
    assert saved["currency"] == "USD"
    assert metrics(usage_page())["Cost"] == "$0.0156"  # a new session (a refresh) keeps it


def test_what_would_this_have_cost() -> None:
    at = usage_page()
    targets = at.multiselect(key="widget.usage.targets")
    assert targets.value == ["gpt-4o", "glm-4-plus", "glm-4-flash"]
    table = table_with(at, "Saving vs actual")
    # 4000 prompt + 2500 completion tokens. Actual: 0.0225 CNY + 0.0125 USD x 7.2 = 0.1125.
    # gpt-4o: (4000 x 2.5 + 2500 x 10) / 1M = 0.035 USD = 0.252 CNY; glm-4-plus: 6500 x 5 / 1M.
    assert table.to_dict("records") == [
        {"Model": "Actual", "Cost (CNY)": 0.1125, "Saving vs actual": "—"},
        {"Model": "gpt-4o", "Cost (CNY)": 0.252, "Saving vs actual": "124.0% more"},
        {"Model": "glm-4-plus", "Cost (CNY)": 0.0325, "Saving vs actual": "saves 71.1%"},
        {"Model": "glm-4-flash", "Cost (CNY)": 0.0, "Saving vs actual": "saves 100.0%"},
    ]
    bars = chart(at, "usage.chart.reprice")["data"][0]
    assert bars["x"] == ["Actual", "gpt-4o", "glm-4-plus", "glm-4-flash"]
    assert bars["y"] == pytest.approx([0.1125, 0.252, 0.0325, 0.0])
    assert bars["text"] == ["", "124% more", "saves 71%", "saves 100%"]
    at.multiselect(key="widget.usage.targets").set_value(["glm-4-air"]).run()
    table = table_with(at, "Saving vs actual")
    assert table["Cost (CNY)"].tolist() == [0.1125, 0.00325]  # 6500 x 0.5 / 1M


def test_csv_export(monkeypatch: pytest.MonkeyPatch) -> None:
    files = record_downloads(monkeypatch)
    at = usage_page()
    button = at.download_button(key="usage.csv")
    assert button.label == en("usage.table.csv", count="4")
    frame = pd.read_csv(io.BytesIO(downloaded(at, "usage.csv", files)), encoding="utf-8-sig")
    assert len(frame) == 4
    assert sorted(frame["model"]) == ["glm-4-plus", "glm-4-plus", "gpt-4o", "gpt-4o"]
    assert frame["cost"].sum() == pytest.approx(0.0075 + 0.015 + GPT_USD)
    assert set(frame["outcome"]) == {"ok", "error"} and "key" not in " ".join(frame.columns).lower()
    at.multiselect(key="widget.usage.models").set_value(["gpt-4o"]).run()
    frame = pd.read_csv(io.BytesIO(downloaded(at, "usage.csv", files)), encoding="utf-8-sig")
    assert set(frame["model"]) == {"gpt-4o"} and len(frame) == 2
    shown = table_with(at, en("usage.col.latency_s"))
    assert len(shown) == 2 and en("usage.col.latency_s") in shown.columns


def test_budget_warning_near_and_remembered() -> None:
    at = usage_page()
    at.number_input(key="widget.usage.budget").set_value(0.1).run()
    assert_ok(at)
    assert [w.value for w in at.warning] == [
        en("usage.budget_over", cost="¥0.1125", budget="¥0.1000", percent="112%")]
    at.number_input(key="widget.usage.budget").set_value(0.12).run()
    assert not at.warning
    assert [i.value for i in at.info] == [en("usage.budget_near", cost="¥0.1125", budget="¥0.1200",
                                             percent="94%")]
    again = usage_page()  # a refresh: the budget was saved next to the data
    assert again.number_input(key="widget.usage.budget").value == 0.12
    again.segmented_control(key="widget.usage.currency").set_value("USD").run()
    assert again.number_input(key="widget.usage.budget").value == pytest.approx(0.02, abs=0.005)


def test_recompute_costs_after_a_price_change() -> None:
    at = usage_page()
    shipped = PriceTable.shipped()
    dearer = [Price("glm-4-plus", "CNY", 10, 10) if p.model == "glm-4-plus" else p for p in shipped.prices]
    shipped.with_prices(dearer).save(data_dir())  # as the editor's Save does
    at.button(key="usage.recompute").click().run()
    assert_ok(at)
    assert en("usage.recomputed", count="2") in [s.value for s in at.success]
    assert metrics(at)["Cost"] == "¥0.1350"  # 4500 x 10 / 1M + 0.09


def test_store_text_switch_is_off_by_default_and_kept() -> None:
    at = usage_page()
    switch = at.toggle(key="widget.usage.store_text")
    assert switch.value is False and switch.label == en("usage.store_text")
    assert en("usage.store_text_help") in [c.value for c in at.caption]
    switch.set_value(True).run()
    assert at.session_state["usage.store_text"] is True
    assert en("usage.store_text_on") in [i.value for i in at.info]
    at.switch_page("app_pages/chat.py").run()
    assert at.session_state["usage.store_text"] is True  # what the chat reads when it records
    at.switch_page("app_pages/usage.py").run()
    assert at.toggle(key="widget.usage.store_text").value is True
    assert t("usage.store_text", "zh") != en("usage.store_text")


def test_filters_survive_a_language_switch() -> None:
    at = usage_page()
    at.multiselect(key="widget.usage.backends").set_value(["openai"]).run()
    at.segmented_control(key="widget.usage.preset").set_value("7d").run()
    at.segmented_control(key="widget.lang").set_value("zh").run()
    assert_ok(at)
    assert metrics(at)[t("usage.metric.calls", "zh")] == "2"
    assert at.multiselect(key="widget.usage.backends").value == ["openai"]
    assert at.segmented_control(key="widget.usage.preset").value == "7d"
    assert at.date_input(key="widget.usage.range").value == (date.today() - timedelta(days=6), date.today())


def test_latency_bins_count_every_call_once() -> None:
    seed([dict(ts=TODAY, model="glm-4-plus", latency_s=4.05),
          dict(ts=TODAY, model="glm-4-plus", latency_s=4.15)])
    at = usage_page()
    spec = chart(at, "usage.chart.latency")  # the seed's 2.0 and 4.0, and these two
    glm = next(tr for tr in spec["data"] if tr["name"] == "glm-4-plus")
    assert (glm["x"], glm["y"]) == (["1–1.5 s", "1.5–2 s", "2–3 s", "3–5 s"], [0, 0, 1, 3])  # gpt-4o at 1 s
