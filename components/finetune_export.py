"""Export: the validation share and seed, what goes where, and the JSONL files to download."""

from __future__ import annotations

import re

import streamlit as st

from components.finetune_state import Workspace, cached, report, save, setting, show_problem
from core.errors import PlaygroundError
from core.finetune.dataset import Dataset
from core.finetune.export import MAX_VALIDATION_RATIO, ExportResult, export_dataset
from core.i18n import t

RATIO_KEY = "widget.ft.ratio"
SEED_KEY = "widget.ft.seed"
_UNSAFE = re.compile(r"[^\w.-]+")


def file_stem(name: str) -> str:
    """A file name from a dataset name: Chinese is fine, separators and spaces are not."""
    return _UNSAFE.sub("_", name).strip("_.") or "dataset"


def exported(ws: Workspace, dataset: Dataset) -> ExportResult:
    """The export for the dataset's split settings (computed again only when something changed)."""
    ratio = float(setting(dataset, "validation_ratio") or 0)
    seed = int(setting(dataset, "seed") or 0)
    return cached(ws, "export", (ratio, seed),
                  lambda: export_dataset(dataset.records(), report(ws, dataset), ratio, seed))


def _set_split(ws: Workspace, dataset: Dataset) -> None:
    dataset.settings["validation_ratio"] = round(int(st.session_state.get(RATIO_KEY) or 0) / 100, 2)
    dataset.settings["seed"] = int(st.session_state.get(SEED_KEY) or 0)
    save(ws, examples_changed=False)


def render_split(ws: Workspace, dataset: Dataset, lang: str) -> None:
    st.session_state[RATIO_KEY] = round(float(setting(dataset, "validation_ratio") or 0) * 100)
    st.session_state[SEED_KEY] = int(setting(dataset, "seed") or 0)
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.slider(t("finetune.export.ratio", lang), 0, int(MAX_VALIDATION_RATIO * 100), key=RATIO_KEY,
               format="%d%%", on_change=_set_split, args=(ws, dataset), width=320,
               help=t("finetune.export.ratio_help", lang))
    row.number_input(t("finetune.export.seed", lang), min_value=0, max_value=2**31 - 1, key=SEED_KEY,
                     on_change=_set_split, args=(ws, dataset), width=180,
                     help=t("finetune.export.seed_help", lang))


def render_export(ws: Workspace, dataset: Dataset, lang: str) -> None:
    render_split(ws, dataset, lang)
    try:
        result = exported(ws, dataset)
    except PlaygroundError as err:
        show_problem(err, lang)
        return
    cols = st.columns(3)
    cols[0].metric(t("finetune.export.train", lang), f"{result.train_count:,}")
    cols[1].metric(t("finetune.export.validation", lang), f"{result.validation_count:,}")
    cols[2].metric(t("finetune.export.left_out", lang), f"{len(result.left_out):,}")
    if result.left_out:
        shown = ", ".join(str(n) for n in result.left_out[:30]) + (" …" if len(result.left_out) > 30 else "")
        st.warning(t("finetune.export.left_out_lines", lang, count=len(result.left_out), lines=shown),
                   icon=":material/filter_alt:")
    stem = file_stem(dataset.name)
    row = st.container(horizontal=True)
    row.download_button(t("finetune.export.download_train", lang, count=result.train_count),
                        data=lambda: result.train, file_name=f"{stem}.train.jsonl",
                        mime="application/jsonl", key="ft.download_train", icon=":material/download:",
                        type="primary", on_click="ignore")
    if result.validation is not None:
        validation = result.validation
        row.download_button(t("finetune.export.download_validation", lang, count=result.validation_count),
                            data=lambda: validation, file_name=f"{stem}.validation.jsonl",
                            mime="application/jsonl", key="ft.download_validation",
                            icon=":material/download:", on_click="ignore")
    st.caption(t("finetune.export.note", lang))
