"""Fine-tune data page: build, import, check and export chat-format JSONL, and train on Zhipu."""

from __future__ import annotations

import streamlit as st

from components.finetune_check import render_check, render_model_settings
from components.finetune_datasets import render_dataset_bar
from components.finetune_examples import render_examples
from components.finetune_export import render_export
from components.finetune_import import render_import
from components.finetune_state import SECTIONS, show_flash, workspace
from components.finetune_stats import render_stats
from components.finetune_table import render_table
from components.finetune_train import render_train
from components.language import current_language
from components.state import bound, durable
from core.i18n import t

SECTION_KEY = "widget.ft.section"
VIEW_KEY = "widget.ft.view"

lang = current_language()
ws = workspace()
st.title(t("finetune.title", lang))
st.caption(t("finetune.subtitle", lang))

dataset = render_dataset_bar(ws, lang)
show_flash(ws, lang)


def _section_changed() -> None:
    choice = st.session_state.get(SECTION_KEY)
    if choice in SECTIONS:
        ws.section = choice


if dataset is None:
    render_import(ws, None, lang)  # a first dataset can also come from a file
    st.stop()

render_model_settings(ws, dataset, lang)
st.session_state[SECTION_KEY] = ws.section
st.segmented_control(t("finetune.section.label", lang), SECTIONS, key=SECTION_KEY, required=True,
                     format_func=lambda s: t(f"finetune.section.{s}", lang), on_change=_section_changed,
                     label_visibility="collapsed")

if ws.section == "examples":
    if ws.focus is None:
        views = durable("finetune.view", lambda: {"view": "conversations"})
        view = bound(st.radio, t("finetune.view.label", lang), views, "view", VIEW_KEY,
                     options=("conversations", "table"), horizontal=True,
                     format_func=lambda v: t(f"finetune.view.{v}", lang))
    else:
        view = "conversations"
    (render_table if view == "table" else render_examples)(ws, dataset, lang)
elif ws.section == "import":
    render_import(ws, dataset, lang)
elif ws.section == "check":
    render_check(ws, dataset, lang)
elif ws.section == "stats":
    render_stats(ws, dataset, lang)
elif ws.section == "export":
    render_export(ws, dataset, lang)
else:
    render_train(ws, dataset, lang)
