"""Prompt variables on the compare page: a table of test cases, each run on every target, as a grid.

`{{name}}` in the system prompt or a message becomes a column of the table. A case with a blank
cell for a variable is named and not run; the grid (case x target) shows each answer with its time
and cost, and downloads as CSV.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from components.compare_results import recorder_factory, run_targets
from components.compare_state import CompareState, TargetChoice
from components.compare_targets import md
from components.usage_hook import price_of
from core.compare.runner import CompareRun
from core.compare.translation import Translation
from core.compare.variables import (
    GridCell,
    clean_cases,
    fill_messages,
    grid_csv,
    missing_values,
    names_in_messages,
)
from core.error_text import explain
from core.i18n import t
from core.pricing_display import format_money

PROGRESS_REDRAW_S = 0.25
SHOWN_MISSING = 6  # blank cells named one by one; the rest are counted


def variables_in(state: CompareState) -> list[str]:
    return names_in_messages(state.conv.to_api())


def first_case(state: CompareState, names: list[str]) -> dict[str, str] | None:
    """The values a single Run fills in: the table's first case."""
    return state.cases[0] if names and state.cases else None


def missing_text(state: CompareState, names: list[str], lang: str) -> str:
    """What is blank in the table, in words ("" when every case is complete)."""
    if not state.cases:
        return t("compare.vars.no_cases", lang, names=_braced(names))
    missing = missing_values(names, state.cases)
    if not missing:
        return ""
    named = "; ".join(t("compare.vars.missing_one", lang, case=m.case, name=md(m.name))
                      for m in missing[:SHOWN_MISSING])
    more = len(missing) - SHOWN_MISSING
    return t("compare.vars.missing", lang, cells=named) + (
        " " + t("compare.vars.missing_more", lang, count=more) if more > 0 else "")


def _braced(names: list[str]) -> str:
    return ", ".join(md("{{" + n + "}}") for n in names)


def render_cases(state: CompareState, names: list[str], lang: str) -> None:
    """The test-case table: one column per variable, rows added and deleted freely."""
    if state.cases_names != names or not state.cases_base:
        rows = state.cases or [{}]
        state.cases_base = [{n: str(row.get(n, "")) for n in names} for row in rows]
        state.cases_names = list(names)
        state.cases_version += 1
    frame = pd.DataFrame(state.cases_base, columns=names, dtype="string")
    edited = st.data_editor(frame, key=f"cmp.cases.{state.cases_version}", num_rows="dynamic",
                            column_config={n: st.column_config.TextColumn(n) for n in names},
                            width="stretch")
    state.cases = clean_cases(edited.to_dict("records"), names)


def render_variables(state: CompareState, choices: list[TargetChoice],
                     translations: list[Translation] | None, lang: str) -> None:
    names = variables_in(state)
    if not names:
        st.caption(t("compare.vars.hint", lang))
        return
    with st.container(border=True):
        st.markdown(f"**{t('compare.vars.title', lang)}**")
        st.caption(t("compare.vars.found", lang, names=_braced(names)))
        render_cases(state, names, lang)
        problem = missing_text(state, names, lang)
        if problem:
            st.warning(problem, icon=":material/table_edit:")
        run = st.button(t("compare.vars.run_all", lang, cases=len(state.cases), targets=len(choices)),
                        key="cmp.run_cases", icon=":material/grid_on:", disabled=bool(problem)
                        or translations is None, help=t("compare.vars.run_all_help", lang))
        if run and translations is not None and not problem:
            run_grid(state, choices, translations, names, lang)
        render_grid(state, lang)


def run_grid(state: CompareState, choices: list[TargetChoice], translations: list[Translation],
             names: list[str], lang: str) -> None:
    """Every case on every target, one case at a time (its targets in parallel)."""
    cases = [dict(c) for c in state.cases]
    cells: list[GridCell] = []
    st.button(t("compare.stop", lang), key="cmp.stop_cases", icon=":material/stop_circle:")
    progress = st.progress(0.0)
    labels = [c.label for c in choices]
    try:
        for number, case in enumerate(cases, 1):
            messages = fill_messages(state.conv.to_api(), case)
            run = CompareRun(run_targets(choices, translations), messages, price=price_of(),
                             recorder_for=recorder_factory()).start()
            try:
                _wait(run, progress, number, len(cases), lang)
            finally:
                if not run.done:
                    run.stop()
                cells += [_cell(number, labels[i], r, lang) for i, r in enumerate(run.results)]
    finally:
        state.grid, state.grid_cases = cells, cases
    st.rerun()


def _wait(run: CompareRun, progress: Any, number: int, total: int, lang: str) -> None:
    last = 0.0
    while not run.done:
        if not run.poll():
            run.wait()
        now = time.perf_counter()
        if now - last >= PROGRESS_REDRAW_S:  # a redraw is also where a Stop click takes effect
            last = now
            progress.progress((number - 1) / total, text=t("compare.vars.running", lang, case=number,
                                                               total=total))
    run.poll()


def _cell(number: int, label: str, result: Any, lang: str) -> GridCell:
    error = ""
    if result.error is not None:
        text = explain(result.error, lang)
        error = f"{text.title}: {text.fix}"
    return GridCell(number, label, result.model, result.text, result.outcome, result.latency_s,
                    result.ttft_s, result.completion_tokens, result.cost, result.currency, error)


def grid_frame(cells: list[GridCell], cases: list[dict[str, str]], lang: str) -> pd.DataFrame:
    """One row per case: its values, then per target the answer, seconds and cost."""
    rows: dict[int, dict[str, Any]] = {}
    for cell in cells:
        row = rows.setdefault(cell.case, {t("compare.col.case", lang): cell.case,
                                          **(cases[cell.case - 1] if cell.case <= len(cases) else {})})
        row[cell.target] = cell.output if cell.outcome != "error" or cell.output else f"⚠ {cell.error}"
        row[f"{cell.target} · {t('compare.col.total', lang)}"] = (
            round(cell.latency_s, 2) if cell.latency_s is not None else None)
        row[f"{cell.target} · {t('compare.col.cost', lang)}"] = (
            format_money(cell.cost, cell.currency or "") if cell.cost is not None else "")
    return pd.DataFrame(list(rows.values()))


def render_grid(state: CompareState, lang: str) -> None:
    if not state.grid:
        return
    names = list(state.grid_cases[0]) if state.grid_cases else []
    st.dataframe(grid_frame(state.grid, state.grid_cases, lang), hide_index=True)
    st.download_button(t("compare.vars.csv", lang), grid_csv(state.grid, names, state.grid_cases),
                       file_name=f"compare-{datetime.now():%Y%m%d-%H%M}.csv", mime="text/csv",
                       key="cmp.grid_csv", icon=":material/download:", on_click="ignore")
