"""Validation on the page: the model and length limit, every problem with its line, a jump from the
table to the example, and one-click fixes for unknown keys and duplicates."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.finetune_state import Workspace, limit_of, report, save, setting
from core.finetune.base_models import BASE_MODELS, base_model
from core.finetune.dataset import Dataset
from core.finetune.validation import RULES, WARNING, Report
from core.finetune.wording import describe, what, where
from core.i18n import t

MODEL_KEY = "widget.ft.base_model"
LIMIT_KEY = "widget.ft.limit"
JUMP_KEY = "widget.ft.jump"
MAX_ROWS = 5_000  # problems listed in the table (all are counted)
MAX_JUMP = 1_000  # lines offered in the jump list


def _set_model(ws: Workspace, dataset: Dataset) -> None:
    dataset.settings["base_model"] = st.session_state.get(MODEL_KEY)
    save(ws, examples_changed=False)


def _set_limit(ws: Workspace, dataset: Dataset) -> None:
    value = st.session_state.get(LIMIT_KEY)
    dataset.settings["limit"] = int(value) if value else None
    save(ws, examples_changed=False)


def render_model_settings(ws: Workspace, dataset: Dataset, lang: str) -> None:
    """The model the dataset is for and the length limit checked (0: the model's context)."""
    ids = [m.id for m in BASE_MODELS]
    chosen = setting(dataset, "base_model")
    if chosen not in ids:
        chosen = ids[0]
    st.session_state[MODEL_KEY] = chosen
    st.session_state[LIMIT_KEY] = int(dataset.settings.get("limit") or 0)
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.selectbox(t("finetune.settings.model", lang), ids, key=MODEL_KEY, on_change=_set_model,
                  args=(ws, dataset), width=300, help=t("finetune.settings.model_help", lang))
    model = base_model(chosen)
    context = f"{model.context:,}" if model else "—"
    row.number_input(t("finetune.settings.limit", lang), min_value=0, max_value=2_000_000, step=1000,
                     key=LIMIT_KEY, on_change=_set_limit, args=(ws, dataset), width=220,
                     help=t("finetune.settings.limit_help", lang, context=context))


def _open(ws: Workspace) -> None:
    line = st.session_state.get(JUMP_KEY)
    if line:
        ws.focus, ws.section = int(line), "examples"


def _strip_keys(ws: Workspace, dataset: Dataset) -> None:
    changed = sum(e.strip_unknown_keys() for e in dataset.examples)
    if changed:
        save(ws)
    ws.flash = ("success", "finetune.check.stripped", {"count": changed})


def _drop_duplicates(ws: Workspace, dataset: Dataset, lines: list[int]) -> None:
    ids = [dataset.examples[line - 1].id for line in lines if 0 < line <= len(dataset.examples)]
    for example_id in ids:
        dataset.delete(example_id)
    save(ws)
    ws.flash = ("success", "finetune.check.deduplicated", {"count": len(ids)})


def _summary(result: Report, lang: str) -> None:
    cols = st.columns(4)
    cols[0].metric(t("finetune.check.examples", lang), f"{result.total:,}")
    cols[1].metric(t("finetune.check.valid", lang), f"{result.valid_count:,}")
    cols[2].metric(t("finetune.check.with_errors", lang), f"{len(result.error_lines):,}")
    only_warnings = len(result.warning_lines - result.error_lines)
    cols[3].metric(t("finetune.check.with_warnings", lang), f"{only_warnings:,}")


def render_check(ws: Workspace, dataset: Dataset, lang: str) -> None:
    result = report(ws, dataset)
    limit = limit_of(dataset)
    st.caption(t("finetune.check.help", lang, limit=f"{limit:,}" if limit else "—"))
    _summary(result, lang)
    if not result.problems:
        st.success(t("finetune.check.all_valid", lang) if result.total else t("finetune.editor.empty", lang),
                   icon=":material/check_circle:")
        return
    counts = result.counts()
    by_rule = [{"rule": what_rule(code, lang), "examples": counts[code]} for code in RULES if code in counts]
    with st.expander(t("finetune.check.by_rule", lang)):
        st.dataframe(pd.DataFrame(by_rule), hide_index=True, width="stretch",
                     column_config={"rule": t("finetune.check.col_rule", lang),
                                    "examples": t("finetune.check.col_examples", lang)})
    rows = [{"line": p.line, "severity": t(f"finetune.check.{p.severity}", lang),
             "where": where(p, lang), "problem": what(p, lang)} for p in result.problems[:MAX_ROWS]]
    if len(result.problems) > MAX_ROWS:
        st.caption(t("finetune.check.first_rows", lang, shown=MAX_ROWS, count=len(result.problems)))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="ft.problems",
                 column_order=["where", "severity", "problem"],
                 column_config={"where": t("finetune.check.col_where", lang),
                                "severity": t("finetune.check.col_severity", lang),
                                "problem": t("finetune.check.col_problem", lang)})
    first = result.by_line()
    lines = sorted(first)[:MAX_JUMP]
    row = st.container(horizontal=True, vertical_alignment="bottom")
    if st.session_state.get(JUMP_KEY) not in lines:
        st.session_state[JUMP_KEY] = lines[0]
    row.selectbox(t("finetune.check.jump", lang), lines, key=JUMP_KEY, width=520,
                  format_func=lambda n: describe(first[n][0], lang))  # options are plain text
    row.button(t("finetune.check.open", lang), key="ft.open_line", icon=":material/edit:", on_click=_open,
               args=(ws,))
    fixes = st.container(horizontal=True)
    if "unknown_key" in counts:
        fixes.button(t("finetune.check.strip_keys", lang, count=counts["unknown_key"]), key="ft.strip_keys",
                     on_click=_strip_keys, args=(ws, dataset))
    duplicates = sorted({p.line for p in result.problems if p.code == "duplicate" and p.severity == WARNING})
    if duplicates:
        fixes.button(t("finetune.check.drop_duplicates", lang, count=len(duplicates)), key="ft.dedupe",
                     on_click=_drop_duplicates, args=(ws, dataset, duplicates))


def what_rule(code: str, lang: str) -> str:
    return t(f"finetune.rule_name.{code}", lang)
