"""AppTest: the Usage & cost page when there is nothing to show or no database, in both languages."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from streamlit.testing.v1 import AppTest

from core.i18n import t
from core.usage_ledger import Ledger, LedgerUnavailable, clear_ledger_cache
from tests.apptest_helpers import assert_ok, en, errors, nodes
from tests.usage_page_helpers import metrics, seed, usage_page

UNREACHABLE = "sqlite:////nonexistent/folder/usage.db"
RAW_KEY = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_]+)+$")


@pytest.fixture(autouse=True)
def _ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PLAYGROUND_DB_URL", raising=False)
    clear_ledger_cache()
    yield
    clear_ledger_cache()


def price_editor_shown(at: AppTest) -> bool:
    return any(d.editing_mode == "dynamic" for d in at.dataframe)


def test_empty_ledger_says_chat_first() -> None:
    at = usage_page()
    assert [i.value for i in at.info] == [en("usage.empty")]
    assert not at.metric and not at.get("plotly_chart") and not at.error and not at.warning
    assert price_editor_shown(at) and at.button(key="usage.recompute")
    assert at.toggle(key="widget.usage.store_text").value is False


def test_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_DB_URL", UNREACHABLE)
    at = usage_page()
    shown = errors(at)
    assert len(shown) == 1
    assert en("ledger.title") in shown[0] and "PLAYGROUND_DB_URL" in shown[0]
    assert "/nonexistent/folder/usage.db" in shown[0]
    assert en("usage.still_works") in [c.value for c in at.caption]
    assert not at.metric and not at.get("plotly_chart")
    assert price_editor_shown(at) and at.toggle(key="widget.usage.store_text")
    assert not any(b.key == "usage.recompute" for b in at.button)  # nothing to recompute
    at.switch_page("app_pages/chat.py").run()  # the rest of the app keeps working
    assert_ok(at)
    assert at.button(key="chat.run")


def test_database_lost_after_it_was_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    seed()
    at = usage_page()
    assert metrics(at)["Calls"] == "4"

    def gone(*_: object) -> None:
        raise OperationalError("SELECT", {}, Exception("server closed the connection; password=s3cret"))

    monkeypatch.setattr(Ledger, "overview", gone)
    at.run()
    assert_ok(at)
    shown = errors(at)
    assert len(shown) == 1 and en("ledger.title") in shown[0] and "s3cret" not in shown[0]
    assert price_editor_shown(at) and not at.metric


def test_a_call_that_could_not_be_recorded_is_reported() -> None:
    seed()
    at = usage_page()
    at.session_state["usage.ledger_error"] = LedgerUnavailable("ledger.unavailable", "disk I/O error",
                                                               "sqlite:///x.db")
    at.run()
    assert_ok(at)
    shown = errors(at)
    assert len(shown) == 1 and t("ledger.unavailable", "en", url="sqlite:///x.db") in shown[0]
    assert en("usage.record_fix") in [c.value for c in at.caption]
    assert metrics(at)["Calls"] == "4"  # what was recorded is still shown


def test_a_broken_settings_file_is_ignored() -> None:
    seed()
    (Path(os.environ["PLAYGROUND_DATA_DIR"]) / "usage_settings.json").write_text("{not json")
    at = usage_page()
    assert at.segmented_control(key="widget.usage.currency").value == "CNY"
    assert at.number_input(key="widget.usage.budget").value is None


# ---- both languages -------------------------------------------------------------------------------
def visible_texts(at: AppTest) -> list[str]:
    """Every text a person reads on the page: labels, values, alerts, options, chart titles."""
    out: list[str] = []
    for root in (at.main, at.sidebar):
        for node in nodes(root):
            for name in ("label", "value", "help", "placeholder"):
                try:
                    value = getattr(node, name, None)
                except Exception:  # a widget whose value AppTest cannot read here
                    value = None
                if isinstance(value, str):
                    out.append(value)
            out += [str(o) for o in getattr(node, "options", None) or []]
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        layout = spec["layout"]
        out += [layout.get("title", {}).get("text", ""),
                layout.get("xaxis", {}).get("title", {}).get("text", ""),
                layout.get("yaxis", {}).get("title", {}).get("text", "")]
        out += [str(tr.get("name", "")) for tr in spec["data"]]
        out += [str(x) for tr in spec["data"] for x in tr.get("x", []) if isinstance(x, str)]
    for tab in at.tabs:
        out.append(tab.label)
    for expander in at.expander:
        out.append(expander.label)
    return [text for text in out if text]


def untranslated(texts: list[str]) -> list[str]:
    return [text for text in texts if RAW_KEY.match(text.strip()) or re.search(r"\{[a-z_]+\}", text)]


@pytest.mark.parametrize(("locale", "lang"), [("en-US", "en"), ("zh-CN", "zh")])
def test_both_languages_render_without_raw_keys(locale: str, lang: str) -> None:
    seed()
    at = usage_page(locale)
    at.number_input(key="widget.usage.budget").set_value(0.01).run()  # a budget warning too
    assert_ok(at)
    texts = visible_texts(at)
    assert untranslated(texts) == []
    assert at.title[0].value == t("usage.title", lang)
    assert {m.label for m in at.metric} >= {t("usage.metric.calls", lang), t("usage.metric.cost", lang)}
    assert [tab.label for tab in at.tabs] == [t(k, lang) for k in (
        "usage.tab_overview", "usage.tab_reprice", "usage.tab_calls")]
    assert t("usage.chart.tokens_title", lang) in texts and t("usage.reprice.actual", lang) in texts
    assert len(at.warning) == 1
    if lang == "zh":
        assert "预算" in at.warning[0].value
        assert t("usage.outcome.ok", "zh") in texts


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_empty_and_unavailable_states_in_both_languages(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = usage_page("en-US" if lang == "en" else "zh-CN")
    assert untranslated(visible_texts(at)) == []
    assert at.info[0].value == t("usage.empty", lang)
    clear_ledger_cache()
    monkeypatch.setenv("PLAYGROUND_DB_URL", UNREACHABLE)
    at.run()
    assert untranslated(visible_texts(at)) == []
    assert t("ledger.title", lang) in errors(at)[0]
