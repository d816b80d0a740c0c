"""core/pricing: checking edited rows, and saving / loading the user's copy (bad files included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.pricing import (
    PRICES_FILE,
    RATE_FILE,
    SHIPPED_PATH,
    Price,
    PriceProblem,
    PriceTable,
    parse_prices_csv,
    prices_to_csv,
    rate_problem,
    validate_price_records,
)
from core.pricing_display import describe_notice, describe_problem

SHIPPED = PriceTable.shipped()


def row(**values: Any) -> dict[str, Any]:
    base = {"model": "glm-4-plus", "currency": "CNY", "input_per_m": 5, "output_per_m": 5,
            "per_image": None, "training_per_m": None, "source": "quote", "date": "2026-11"}
    return base | values


def only_problem(records: list[dict[str, Any]]) -> PriceProblem:
    _, problems = validate_price_records(records)
    assert len(problems) == 1, problems
    return problems[0]


# ---- checking rows ------------------------------------------------------------------------------
def test_good_rows_become_prices() -> None:
    prices, problems = validate_price_records([
        row(), row(model=" gpt-4o ", currency="usd", input_per_m="2.5", output_per_m=10.0),
        row(model="cogview-3", input_per_m=0, output_per_m=0, per_image="0.25", source=None,
            date=float("nan")),
        row(model="glm-4-air", currency="RMB", input_per_m=0.5, output_per_m=0.5, training_per_m=4)])
    assert problems == []
    assert prices == [
        Price("glm-4-plus", "CNY", 5.0, 5.0, None, None, "quote", "2026-11"),
        Price("gpt-4o", "USD", 2.5, 10.0, None, None, "quote", "2026-11"),
        Price("cogview-3", "CNY", 0.0, 0.0, 0.25, None, "", ""),
        Price("glm-4-air", "CNY", 0.5, 0.5, None, 4.0, "quote", "2026-11")]


def test_blank_rows_are_skipped_but_counted() -> None:
    blank = dict.fromkeys(row(), None)
    untouched = blank | {"currency": "CNY"}  # a row added in the editor gets the default currency
    prices, problems = validate_price_records([blank, {}, untouched, row(input_per_m=-1)])
    assert prices == [] and [(p.row, p.column) for p in problems] == [(4, "input_per_m")]


@pytest.mark.parametrize(("edit", "column", "key", "value"), [
    ({"model": "  "}, "model", "pricing.problem.empty_model", None),
    ({"model": None}, "model", "pricing.problem.empty_model", None),
    ({"input_per_m": -1}, "input_per_m", "pricing.problem.negative", "-1"),
    ({"output_per_m": "-0.5"}, "output_per_m", "pricing.problem.negative", "-0.5"),
    ({"per_image": -0.25}, "per_image", "pricing.problem.negative", "-0.25"),
    ({"input_per_m": "abc"}, "input_per_m", "pricing.problem.not_a_number", "abc"),
    ({"output_per_m": "1,5"}, "output_per_m", "pricing.problem.not_a_number", "1,5"),
    ({"training_per_m": "inf"}, "training_per_m", "pricing.problem.not_a_number", "inf"),
    ({"input_per_m": True}, "input_per_m", "pricing.problem.not_a_number", "True"),
    ({"input_per_m": [1]}, "input_per_m", "pricing.problem.not_a_number", "[1]"),
    ({"input_per_m": None}, "input_per_m", "pricing.problem.missing", ""),
    ({"output_per_m": float("nan")}, "output_per_m", "pricing.problem.missing", ""),
    ({"currency": "EUR"}, "currency", "pricing.problem.currency", "EUR"),
    ({"currency": ""}, "currency", "pricing.problem.no_currency", ""),
])
def test_each_bad_input_names_row_and_column(edit: dict[str, Any], column: str, key: str,
                                            value: str | None) -> None:
    prices, problems = validate_price_records([row(model="gpt-4o"), row(**edit)])
    assert prices == [Price("gpt-4o", "CNY", 5.0, 5.0, None, None, "quote", "2026-11")]
    (problem,) = problems
    assert (problem.row, problem.column, problem.key) == (2, column, key)
    if value is not None:
        assert problem.values["value"] == value


def test_duplicate_model_any_case() -> None:
    problem = only_problem([row(), row(model="glm-4-air"), row(model="GLM-4-Plus ")])
    assert (problem.row, problem.column, problem.key) == (3, "model", "pricing.problem.duplicate_model")
    assert problem.values["first_row"] == 1
    assert describe_problem(problem, "en") == (
        "Row 3 (GLM-4-Plus), Model: GLM-4-Plus is already in row 1: keep one row per model.")
    assert describe_problem(problem, "zh") == (
        "第 3 行（GLM-4-Plus）模型：GLM-4-Plus 已在第 1 行：每个模型只保留一行。")


def test_one_row_can_have_several_problems() -> None:
    prices, problems = validate_price_records([row(model="", currency="EUR", input_per_m=-2)])
    assert prices == [] and [p.column for p in problems] == ["model", "currency", "input_per_m"]


@pytest.mark.parametrize(("edit", "en", "zh"), [
    ({"input_per_m": -1}, "Row 1 (glm-4-plus), Input / 1M tokens: -1 is negative: enter 0 or more.",
     "第 1 行（glm-4-plus）输入（每百万 tokens）：-1 是负数：请填写 0 或更大的数。"),
    ({"output_per_m": "abc"}, "Row 1 (glm-4-plus), Output / 1M tokens: “abc” is not a number: "
     "enter a plain number such as 0.5.",
     "第 1 行（glm-4-plus）输出（每百万 tokens）：“abc” 不是数字：请填写数字，例如 0.5。"),
    ({"currency": "EUR"}, "Row 1 (glm-4-plus), Currency: “EUR” is not a currency the playground knows: "
     "choose CNY / USD.", "第 1 行（glm-4-plus）币种：不支持币种“EUR”：请选择 CNY / USD。"),
    ({"model": ""}, "Row 1, Model: the model id is empty: type it (e.g. glm-4-plus) or delete the row.",
     "第 1 行，模型：模型 ID 为空：请填写（例如 glm-4-plus），或删除这一行。"),
])
def test_problem_text_in_both_languages(edit: dict[str, Any], en: str, zh: str) -> None:
    problem = only_problem([row(**edit)])
    assert describe_problem(problem, "en") == en
    assert describe_problem(problem, "zh") == zh


@pytest.mark.parametrize(("value", "ok"), [
    (7.2, True), ("6.9", True), (1, True), (0, False), (-7.2, False), ("abc", False), (None, False),
    (float("nan"), False), (float("inf"), False), (True, False)])
def test_rate_problem(value: Any, ok: bool) -> None:
    problem = rate_problem(value)
    assert (problem is None) is ok
    if problem is not None:
        assert (problem.row, problem.column, problem.key) == (0, "cny_per_usd", "pricing.problem.rate")
        assert describe_problem(problem, "en").startswith("CNY per USD: ")
        assert "7.2" in describe_problem(problem, "zh")


# ---- files ----------------------------------------------------------------------------------------
def test_shipped_file_round_trips_through_csv() -> None:
    prices, problems = parse_prices_csv(prices_to_csv(SHIPPED.prices))
    assert problems == [] and tuple(prices) == SHIPPED.prices
    assert SHIPPED_PATH.read_text(encoding="utf-8").startswith(
        "model,currency,input_per_m,output_per_m,per_image,training_per_m,source,date\n")


def test_no_saved_copy_means_the_shipped_table(tmp_path: Path) -> None:
    for folder in (tmp_path, tmp_path / "not-made-yet"):
        table = PriceTable.load(folder)
        assert table == SHIPPED and table.origin == "shipped" and table.warnings == ()


def test_save_and_load_round_trip_with_the_rate(tmp_path: Path) -> None:
    prices = [Price("glm-4-plus", "CNY", 4.0, 4.0, source="our contract", date="2026-10-01"),
              Price("gpt-4o", "USD", 2.5, 10.0), Price("cogview-3", "CNY", 0, 0, per_image=0.25),
              Price("my-ft-model", "CNY", 0.0005, 0.0005, training_per_m=30.0, source="含中文, \"quoted\"")]
    table = PriceTable(tuple(prices), cny_per_usd=6.95)
    folder = tmp_path / "data" / "deeper"
    table.save(folder)
    loaded = PriceTable.load(folder)
    assert loaded == table and loaded.prices == tuple(prices) and loaded.cny_per_usd == 6.95
    assert loaded.origin == "saved" and loaded.warnings == ()
    assert json.loads((folder / RATE_FILE).read_text()) == {"cny_per_usd": 6.95}
    assert "glm-4-plus,CNY,4,4,,,our contract,2026-10-01" in (folder / PRICES_FILE).read_text()
    assert sorted(p.name for p in folder.iterdir()) == sorted([PRICES_FILE, RATE_FILE])  # no temp file left


def test_an_emptied_table_is_a_valid_choice(tmp_path: Path) -> None:
    PriceTable((), 7.0).save(tmp_path)
    table = PriceTable.load(tmp_path)
    assert table.prices == () and table.origin == "saved" and table.find("glm-4-plus") is None


@pytest.mark.parametrize(("content", "key"), [
    ("model,currency,input_per_m,output_per_m\nglm-4-plus,CNY,-5,5\n", "pricing.warn.saved_invalid"),
    ("model,currency,input_per_m,output_per_m\nglm-4-plus,EUR,5,5\n", "pricing.warn.saved_invalid"),
    ("model,currency,input\nglm-4-plus,CNY,5\n", "pricing.warn.saved_invalid"),
    ("", "pricing.warn.saved_invalid"),
    (b"\xff\xfe\x00garbage", "pricing.warn.saved_unreadable"),
])
def test_a_corrupt_saved_file_falls_back_to_the_shipped_table(tmp_path: Path, content: str | bytes,
                                                              key: str) -> None:
    path = tmp_path / PRICES_FILE
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    table = PriceTable.load(tmp_path)
    assert table.prices == SHIPPED.prices and table.origin == "shipped"
    (notice,) = table.warnings
    assert notice.key == key and notice.values["path"] == str(path)
    for lang in ("en", "zh"):
        text = describe_notice(notice, lang)
        assert str(path) in text and "{" not in text
    assert "shipped prices are used" in describe_notice(notice, "en")
    assert path.read_bytes() == (content if isinstance(content, bytes) else content.encode())  # untouched


def test_corrupt_file_message_names_the_first_problem(tmp_path: Path) -> None:
    (tmp_path / PRICES_FILE).write_text("model,currency,input_per_m,output_per_m\nx,CNY,1,1\ny,CNY,-5,5\n")
    (notice,) = PriceTable.load(tmp_path).warnings
    assert "Row 2 (y), Input / 1M tokens: -5 is negative" in describe_notice(notice, "en")


@pytest.mark.parametrize("content", ["{not json", '{"cny_per_usd": -1}', '{"cny_per_usd": "abc"}',
                                     "[7.2]", "{}"])
def test_a_corrupt_rate_file_keeps_the_default_rate(tmp_path: Path, content: str) -> None:
    SHIPPED.with_prices(SHIPPED.prices[:2]).save(tmp_path)
    (tmp_path / RATE_FILE).write_text(content)
    table = PriceTable.load(tmp_path)
    assert table.prices == SHIPPED.prices[:2] and table.origin == "saved"  # the prices still load
    assert table.cny_per_usd == 7.2
    (notice,) = table.warnings
    assert notice.key == "pricing.warn.rate_unreadable"
    assert "7.2 CNY per USD is used instead" in describe_notice(notice, "en")


def test_load_cached_reads_again_only_after_a_change(tmp_path: Path) -> None:
    first = PriceTable.load_cached(tmp_path)
    assert first == SHIPPED and PriceTable.load_cached(tmp_path) is first
    PriceTable(SHIPPED.prices[:1], 7.1).save(tmp_path)
    second = PriceTable.load_cached(tmp_path)
    assert second.prices == SHIPPED.prices[:1] and second.cny_per_usd == 7.1
    assert PriceTable.load_cached(tmp_path) is second


def test_save_into_an_unwritable_place_raises_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        SHIPPED.save(blocker)
