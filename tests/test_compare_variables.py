"""Prompt variables: {{name}} found, filled, missing values flagged, the grid as CSV."""

from __future__ import annotations

import csv
import io
import math

from core.compare.variables import (
    GridCell,
    MissingValue,
    clean_cases,
    fill,
    fill_messages,
    grid_csv,
    missing_values,
    names_in_messages,
    variable_names,
)


def test_names_in_order_of_first_use_each_once() -> None:
    messages = [{"role": "system", "content": "You sell {{product}} in {{ city }}."},
                {"role": "user", "content": "Is {{product}} in stock in {{城市}}? {{ not a var }} {x}"}]
    assert names_in_messages(messages) == ["product", "city", "城市"]
    assert variable_names(["no variables here", ""]) == []


def test_fill_replaces_known_names_and_keeps_unknown_ones() -> None:
    assert fill("{{a}} and {{ b }} and {{c}}", {"a": "1", "b": 2}) == "1 and 2 and {{c}}"
    assert fill("{{a}}", {"a": None}) == ""
    assert fill("{{a}}", {"a": "{{b}}"}) == "{{b}}"  # a value is never filled again


def test_fill_messages_keeps_roles_and_copies() -> None:
    messages = [{"role": "user", "content": "Hi {{name}}"}]
    filled = fill_messages(messages, {"name": "小王"})
    assert filled == [{"role": "user", "content": "Hi 小王"}]
    assert messages[0]["content"] == "Hi {{name}}"


def test_missing_values_are_flagged_per_case_and_name() -> None:
    cases = [{"city": "Beijing", "product": "tea"}, {"city": " ", "product": None},
             {"city": "Shanghai", "product": float("nan")}]
    assert missing_values(["city", "product"], cases) == [
        MissingValue(2, "city"), MissingValue(2, "product"), MissingValue(3, "product")]


def test_clean_cases_drops_empty_rows_and_reads_editor_values() -> None:
    rows = [{"a": "x", "b": None}, {"a": None, "b": math.nan}, {"a": "", "b": " "}, {"a": 3, "b": "y"}]
    assert clean_cases(rows, ["a", "b"]) == [{"a": "x", "b": ""}, {"a": "3", "b": "y"}]


def test_grid_csv_has_one_row_per_case_and_target_and_no_formulas() -> None:
    cells = [GridCell(1, "A · glm-4-plus", "glm-4-plus", "Echo: 北京", "ok", 1.23456, 0.2, 3, 0.00012, "CNY"),
             GridCell(1, "B · gpt-4o", "gpt-4o", "=HYPERLINK(\"x\")", "ok", 2.0, 0.5, 4, None, None),
             GridCell(2, "A · glm-4-plus", "glm-4-plus", "", "error", None, None, None, None, None,
                      "No balance: top up")]
    data = grid_csv(cells, ["city"], [{"city": "北京"}, {"city": "-1"}])
    assert data.startswith("\ufeff".encode())  # spreadsheets read the Chinese right
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [(r["case"], r["city"], r["target"]) for r in rows] == [
        ("1", "北京", "A · glm-4-plus"), ("1", "北京", "B · gpt-4o"), ("2", "'-1", "A · glm-4-plus")]
    assert rows[0]["latency_s"] == "1.235" and rows[0]["cost"] == "0.00012" and rows[0]["currency"] == "CNY"
    assert rows[1]["output"] == "'=HYPERLINK(\"x\")"  # shown as text, never run
    assert rows[2]["outcome"] == "error" and rows[2]["error"] == "No balance: top up"
