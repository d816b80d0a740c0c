"""components/price_editor: edit, save, refuse bad rows with a clear message, restore, keep edits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from components.price_editor import apply_edits
from core.pricing import PRICES_FILE, RATE_FILE, PriceTable
from tests.apptest_helpers import assert_ok, en

SHIPPED = PriceTable.shipped()
SCRIPT = """
from pathlib import Path
import streamlit as st
from components.price_editor import render_price_editor
from core.pricing import PriceTable

data_dir = Path({data_dir!r})
st.session_state["returned"] = render_price_editor(PriceTable.load(data_dir), data_dir,
                                                   st.session_state.get("lang", "en"))
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def start(tmp_path: Path, data_dir: Path) -> AppTest:
    script = tmp_path / "price_editor_app.py"
    script.write_text(SCRIPT.format(data_dir=str(data_dir)), encoding="utf-8")
    at = AppTest.from_file(str(script), default_timeout=30)
    at.run()
    assert_ok(at)
    return at


def edit(at: AppTest, edited: dict[int, dict[str, Any]] | None = None,
         added: list[dict[str, Any]] | None = None, deleted: list[int] | None = None) -> AppTest:
    """Set the data editor's edit state, as the browser would send it, and run."""
    key = at.data_editor[0].key
    at.session_state[key] = {"edited_rows": edited or {}, "added_rows": added or [],
                             "deleted_rows": deleted or []}
    at.run()
    assert_ok(at)
    return at


def save(at: AppTest) -> AppTest:
    at.button(key="pricing.save").click().run()
    assert_ok(at)
    return at


def shown_rows(at: AppTest) -> list[dict[str, Any]]:
    return at.data_editor[0].value.to_dict("records")


def test_shows_the_shipped_rows(tmp_path: Path, data_dir: Path) -> None:
    at = start(tmp_path, data_dir)
    rows = shown_rows(at)
    assert [r["model"] for r in rows] == SHIPPED.models()
    assert rows[0]["input_per_m"] == 5.0 and rows[0]["currency"] == "CNY"
    assert at.data_editor[0].editing_mode == "dynamic"
    assert at.number_input(key="widget.prices.rate").value == 7.2
    assert not at.error and not at.success and not at.warning
    assert at.session_state["returned"] == SHIPPED


def test_a_valid_edit_is_saved(tmp_path: Path, data_dir: Path) -> None:
    at = start(tmp_path, data_dir)
    edit(at, {0: {"input_per_m": 4.0, "output_per_m": 4.0}},
         added=[{"model": "qwen-max", "currency": "CNY", "input_per_m": 2.4, "output_per_m": 9.6}])
    assert [c.value for c in at.caption][-1] == en("pricing.editor.unsaved")
    assert not (data_dir / PRICES_FILE).exists()  # nothing is written before Save
    at.number_input(key="widget.prices.rate").set_value(7.1).run()
    save(at)
    assert not at.error
    assert at.success[0].value == en("pricing.editor.saved", path=str(data_dir / PRICES_FILE))
    saved = PriceTable.load(data_dir)
    assert saved.find("glm-4-plus").input_per_m == 4.0  # type: ignore[union-attr]
    assert saved.cost("qwen-max", 1_000_000, 1_000_000) == (pytest.approx(12.0), "CNY")  # 2.4 + 9.6
    assert saved.cny_per_usd == 7.1 and json.loads((data_dir / RATE_FILE).read_text())["cny_per_usd"] == 7.1
    assert at.session_state["returned"] == saved
    assert shown_rows(at)[0]["input_per_m"] == 4.0 and shown_rows(at)[-1]["model"] == "qwen-max"
    assert en("pricing.editor.unsaved") not in [c.value for c in at.caption]
    at.run()  # the success message is said once
    assert not at.success


def test_bad_edits_are_not_saved_and_each_is_explained(tmp_path: Path, data_dir: Path) -> None:
    at = start(tmp_path, data_dir)
    edit(at, {0: {"input_per_m": -1.0}, 1: {"currency": "EUR"}, 2: {"model": "glm-4-plus"}},
         added=[{"model": None, "currency": "CNY", "input_per_m": 1.0, "output_per_m": 1.0}])
    save(at)
    assert not (data_dir / PRICES_FILE).exists()
    assert not at.success
    (error,) = at.error
    text = error.value
    assert text.startswith(en("pricing.editor.not_saved"))
    assert "Row 1 (glm-4-plus), Input / 1M tokens: -1.0 is negative: enter 0 or more." in text
    assert "Row 2 (glm-4-air), Currency: “EUR” is not a currency the playground knows" in text
    assert "Row 3 (glm-4-plus), Model: glm-4-plus is already in row 1" in text
    assert f"Row {len(SHIPPED.prices) + 1}, Model: the model id is empty" in text
    # Nothing typed is lost: the editor still holds every edit, and the prices in force are unchanged.
    rows = at.session_state["pricing.editor"]["rows"]
    assert rows[0]["input_per_m"] == -1.0 and rows[1]["currency"] == "EUR"
    assert len(rows) == len(SHIPPED.prices) + 1
    assert at.session_state["returned"] == SHIPPED
    # Fixing the rows clears the list as soon as it is right, and Save then works.
    edit(at, {0: {"input_per_m": 6.0, "output_per_m": 6.0}, 2: {"model": "glm-4-airx"}}, deleted=[1])
    assert not at.error
    save(at)
    assert at.success and PriceTable.load(data_dir).find("glm-4-plus").input_per_m == 6.0  # type: ignore[union-attr]
    assert "glm-4-air" not in PriceTable.load(data_dir).models()


def test_messages_in_chinese(tmp_path: Path, data_dir: Path) -> None:
    at = start(tmp_path, data_dir)
    at.session_state["lang"] = "zh"
    at.run()
    edit(at, {0: {"output_per_m": -2.0}})
    save(at)
    assert "第 1 行（glm-4-plus）输出（每百万 tokens）：-2.0 是负数" in at.error[0].value
    assert at.button(key="pricing.save").label == "保存价格"


def test_edits_survive_a_fresh_editor(tmp_path: Path, data_dir: Path) -> None:
    # A language switch (or a visit to another page) draws a new editor: the edits carry over.
    at = start(tmp_path, data_dir)
    edit(at, {0: {"input_per_m": 3.0}}, deleted=[1])
    at.session_state["lang"] = "zh"
    at.run()
    assert_ok(at)
    assert at.data_editor[0].key.endswith(".zh")
    rows = shown_rows(at)
    assert rows[0]["input_per_m"] == 3.0 and rows[1]["model"] == "glm-4-airx"
    assert not (data_dir / PRICES_FILE).exists()


def test_restore_shipped_prices_keeps_the_rate(tmp_path: Path, data_dir: Path) -> None:
    PriceTable((SHIPPED.prices[0],), 6.8).save(data_dir)
    at = start(tmp_path, data_dir)
    assert [r["model"] for r in shown_rows(at)] == ["glm-4-plus"]
    assert at.number_input(key="widget.prices.rate").value == 6.8
    at.button(key="pricing.restore").click().run()
    assert_ok(at)
    assert at.success[0].value == en("pricing.editor.restored", path=str(data_dir / PRICES_FILE))
    restored = PriceTable.load(data_dir)
    assert restored.prices == SHIPPED.prices and restored.cny_per_usd == 6.8
    assert [r["model"] for r in shown_rows(at)] == SHIPPED.models()


def test_a_corrupt_saved_file_is_reported(tmp_path: Path, data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / PRICES_FILE).write_text("model,currency,input_per_m,output_per_m\nglm-4-plus,CNY,abc,5\n")
    at = start(tmp_path, data_dir)
    (warning,) = at.warning
    assert "could not" not in warning.value and "shipped prices are used" in warning.value
    assert "“abc” is not a number" in warning.value
    assert [r["model"] for r in shown_rows(at)] == SHIPPED.models()
    save(at)  # saving the shown table replaces the bad file
    assert PriceTable.load(data_dir).warnings == () and PriceTable.load(data_dir).origin == "saved"


def test_a_write_failure_keeps_the_edits(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    at = start(tmp_path, blocker)
    edit(at, {0: {"input_per_m": 4.5}})
    save(at)
    (error,) = at.error
    assert error.value.startswith(f"Could not write {blocker / PRICES_FILE}")
    assert at.session_state["pricing.editor"]["rows"][0]["input_per_m"] == 4.5
    assert shown_rows(at)[0]["input_per_m"] == 5.0  # the editor's input table; the edit is on top
    assert at.session_state["returned"] == SHIPPED


def test_another_tab_saving_is_followed_when_nothing_is_being_edited(tmp_path: Path, data_dir: Path) -> None:
    at = start(tmp_path, data_dir)
    PriceTable(SHIPPED.prices[:3], 7.0).save(data_dir)
    at.run()
    assert [r["model"] for r in shown_rows(at)] == SHIPPED.models()[:3]
    assert at.number_input(key="widget.prices.rate").value == 7.0
    edit(at, {0: {"input_per_m": 9.0}})
    PriceTable(SHIPPED.prices[:2], 7.0).save(data_dir)
    at.run()
    assert at.session_state["pricing.editor"]["rows"][0]["input_per_m"] == 9.0  # edits win
    assert len(at.session_state["pricing.editor"]["rows"]) == 3


# ---- applying an edit state ---------------------------------------------------------------------
def test_apply_edits_like_streamlit() -> None:
    base = [{"model": m, "input_per_m": n} for m, n in (("a", 1), ("b", 2), ("c", 3))]
    rows = apply_edits(base, {"edited_rows": {"0": {"input_per_m": 9, "unknown": 1}, 5: {"model": "x"}},
                              "deleted_rows": [1, "bad"],
                              "added_rows": [{"model": "d", "currency": "USD"}, "junk"]})
    assert [(r["model"], r.get("input_per_m")) for r in rows] == [("a", 9), ("c", 3), ("d", None)]
    assert "unknown" not in rows[0] and rows[2]["currency"] == "USD"
    assert base[0]["input_per_m"] == 1  # the base is not changed
    assert apply_edits(base, None) == base
