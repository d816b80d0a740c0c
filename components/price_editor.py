"""The price table editor: the rows in an st.data_editor, the CNY per USD rate, Save and Restore.

Nothing typed is lost: the rows being edited live in a non-widget session key, so a failed save,
a language switch or a visit to another page keeps them. Invalid rows are never saved; each
problem is listed with its row, column and fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from components.identity import is_admin
from components.state import bound, durable
from core.i18n import t
from core.markup import md as _escape
from core.pricing import (
    COLUMNS,
    CURRENCIES,
    PRICES_FILE,
    PriceProblem,
    PriceTable,
    rate_problem,
    validate_price_records,
)
from core.pricing_display import describe_notice, describe_problem

STATE_KEY = "pricing.editor"  # durable: the saved table, the rows being edited, the rate, messages
EDITOR_KEY = "widget.prices"  # + version and language: a new key starts a fresh editor
RATE_KEY = "widget.prices.rate"
_NUMBERS = ("input_per_m", "output_per_m", "per_image", "training_per_m")
_TEXTS = ("model", "currency", "source", "date")


def apply_edits(base: list[dict[str, Any]], edits: Any) -> list[dict[str, Any]]:
    """The rows after a data_editor's edit state ({edited_rows, added_rows, deleted_rows}),
    applied the way Streamlit does: cell edits and deletions by position in `base`, then the
    added rows at the end. Values are kept as sent, so a bad one can be named in a message."""
    rows = [dict(row) for row in base]
    if not isinstance(edits, Mapping):
        return rows
    for position, changes in (edits.get("edited_rows") or {}).items():
        try:
            i = int(position)
        except (TypeError, ValueError):
            continue
        if 0 <= i < len(rows) and isinstance(changes, Mapping):
            rows[i].update({k: v for k, v in changes.items() if k in COLUMNS})
    deleted = set()
    for position in edits.get("deleted_rows") or []:
        try:
            deleted.add(int(position))
        except (TypeError, ValueError):
            continue
    rows = [row for i, row in enumerate(rows) if i not in deleted]
    for added in edits.get("added_rows") or []:
        if isinstance(added, Mapping):
            rows.append({name: added.get(name) for name in COLUMNS})
    return rows


def _frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as the editor's table: numbers as floats (so 0.5 can be typed), text as text."""
    data = {name: [r.get(name) for r in records] for name in COLUMNS}
    frame = pd.DataFrame(data, columns=list(COLUMNS))
    for name in _NUMBERS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in _TEXTS:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def _column_config(lang: str) -> dict[str, Any]:
    cc = st.column_config
    number = {name: cc.NumberColumn(t(f"pricing.col.{name}", lang), min_value=0.0,
                                    help=t(f"pricing.help.{name}", lang)) for name in _NUMBERS}
    return {
        "model": cc.TextColumn(t("pricing.col.model", lang), help=t("pricing.help.model", lang)),
        "currency": cc.SelectboxColumn(t("pricing.col.currency", lang), options=list(CURRENCIES),
                                       default=CURRENCIES[0], help=t("pricing.help.currency", lang)),
        **number,
        "source": cc.TextColumn(t("pricing.col.source", lang), help=t("pricing.help.source", lang)),
        "date": cc.TextColumn(t("pricing.col.date", lang), help=t("pricing.help.date", lang)),
    }


def _new_state(table: PriceTable) -> dict[str, Any]:
    records = table.records()
    return {"saved": table, "base": records, "rows": [dict(r) for r in records],
            "rate": table.cny_per_usd, "version": 0, "tried": False, "flash": None}


def _editor_key(state: dict[str, Any], lang: str) -> str:
    return f"{EDITOR_KEY}.v{state['version']}.{lang}"


def _current_rows(state: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The rows as the user sees them now: the editor's base plus its live edit state."""
    key = _editor_key(state, lang)
    if key in st.session_state:
        return apply_edits(state["base"], st.session_state[key])
    return state["rows"]


def _problems(rows: list[dict[str, Any]], rate: Any) -> tuple[PriceTable | None, list[PriceProblem]]:
    prices, problems = validate_price_records(rows)
    bad_rate = rate_problem(rate)
    if bad_rate is not None:
        problems.append(bad_rate)
    if problems:
        return None, problems
    return PriceTable(tuple(prices), float(rate)), []


def _unsaved(state: dict[str, Any]) -> bool:
    candidate, problems = _problems(state["rows"], state["rate"])
    return bool(problems) or candidate != state["saved"]


def _write(state: dict[str, Any], table: PriceTable, data_dir: Path, message: str) -> None:
    path = Path(data_dir) / PRICES_FILE
    try:
        table.save(data_dir)
    except OSError as err:
        state["flash"] = ("error", "pricing.editor.save_failed",
                          {"path": str(path), "reason": str(err) or type(err).__name__})
        return
    records = table.records()
    state.update(saved=table, base=records, rows=[dict(r) for r in records], rate=table.cny_per_usd,
                 version=state["version"] + 1, tried=False,
                 flash=("success", message, {"path": str(path)}))


def _save(data_dir: Path, lang: str) -> None:
    state = st.session_state[STATE_KEY]
    if not is_admin():  # the editor is only drawn for admins; a stale click changes nothing
        return
    state["rows"] = _current_rows(state, lang)
    table, _ = _problems(state["rows"], state["rate"])
    if table is None:
        state["tried"], state["flash"] = True, None
        return
    _write(state, table, data_dir, "pricing.editor.saved")


def _restore(data_dir: Path) -> None:
    state = st.session_state[STATE_KEY]
    if not is_admin():
        return
    rate = state["rate"] if rate_problem(state["rate"]) is None else state["saved"].cny_per_usd
    shipped = PriceTable.shipped()
    _write(state, PriceTable(shipped.prices, float(rate)), data_dir, "pricing.editor.restored")


def _sync(state: dict[str, Any], table: PriceTable) -> None:
    """The saved prices changed under us (another tab saved): follow them unless we have edits."""
    if table == state["saved"]:
        return
    if not _unsaved(state):
        records = table.records()
        state.update(base=records, rows=[dict(r) for r in records], rate=table.cny_per_usd,
                     version=state["version"] + 1, tried=False)
    state["saved"] = table


def render_price_view(table: PriceTable, lang: str) -> None:
    """The prices in force, read only (a team member who is not an admin)."""
    for notice in table.warnings:
        st.warning(describe_notice(notice, lang), icon=":material/warning:")
    st.dataframe(_frame(table.records()), hide_index=True, column_order=list(COLUMNS),
                 column_config=_column_config(lang), width="stretch", key="pricing.view")
    st.caption(t("access.prices.admin_only", lang, rate=f"{table.cny_per_usd:g}"))


def render_price_editor(table: PriceTable, data_dir: Path, lang: str) -> PriceTable:
    """Draw the editor for `table` (the prices in force, e.g. PriceTable.load(data_dir)).

    Returns the prices in force after this run: the saved table (edits count once saved).
    """
    state = durable(STATE_KEY, lambda: _new_state(table))
    _sync(state, table)
    for notice in table.warnings:
        st.warning(describe_notice(notice, lang), icon=":material/warning:")
    st.caption(t("pricing.editor.intro", lang))

    key = _editor_key(state, lang)
    if key not in st.session_state:
        state["base"] = state["rows"]  # a fresh editor starts from what was being edited
    st.data_editor(_frame(state["base"]), key=key, num_rows="dynamic", hide_index=True, placeholder="",
                   column_order=list(COLUMNS), column_config=_column_config(lang), width="stretch")
    state["rows"] = apply_edits(state["base"], st.session_state.get(key))

    with st.container(horizontal=True, vertical_alignment="bottom"):
        bound(st.number_input, t("pricing.col.cny_per_usd", lang), state, "rate", RATE_KEY,
              min_value=0.0001, step=0.01, format="%.4f", width=200,
              help=t("pricing.editor.rate_help", lang, rate=f"{PriceTable.shipped().cny_per_usd:g}"))
        st.button(t("pricing.editor.save", lang), key="pricing.save", type="primary",
                  icon=":material/save:", on_click=_save, args=(data_dir, lang))
        with st.popover(t("pricing.editor.restore", lang), icon=":material/restart_alt:"):
            st.write(t("pricing.editor.restore_confirm", lang))
            st.button(t("pricing.editor.restore_button", lang), key="pricing.restore",
                      on_click=_restore, args=(data_dir,))

    _show_messages(state, lang)
    return state["saved"]


def _show_messages(state: dict[str, Any], lang: str) -> None:
    flash, state["flash"] = state["flash"], None
    if flash is not None:
        kind, key, values = flash
        if kind == "success":
            st.success(t(key, lang, **values), icon=":material/check_circle:")
        else:
            st.error(t(key, lang, **values), icon=":material/error:")
    if state["tried"]:
        _, problems = _problems(state["rows"], state["rate"])
        if problems:
            lines = "\n".join(f"- {_escape(describe_problem(p, lang))}" for p in problems)
            st.error(f"{t('pricing.editor.not_saved', lang)}\n\n{lines}", icon=":material/error:")
        else:
            state["tried"] = False
    if _unsaved(state):
        st.caption(t("pricing.editor.unsaved", lang))
