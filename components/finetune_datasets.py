"""The dataset bar of the fine-tune page: pick a dataset, create, rename, duplicate or delete one."""

from __future__ import annotations

import streamlit as st

from components.finetune_state import Workspace, current, md, open_dataset, problem_text, store
from core.errors import PlaygroundError
from core.finetune.dataset import Dataset
from core.i18n import t

NEW_NAME_KEY = "widget.ft.new_name"
RENAME_KEY = "widget.ft.rename"
PICK_KEY = "widget.ft.dataset"


def _create(ws: Workspace, lang: str) -> None:
    name = st.session_state.get(NEW_NAME_KEY, "")
    try:
        dataset = store().create(name)
    except PlaygroundError as err:
        ws.flash = ("error", "finetune.dataset.not_created", {"reason": problem_text(err, lang)})
        return
    except OSError as err:
        ws.flash = ("error", "finetune.save_failed", {"reason": str(err)})
        return
    open_dataset(ws, dataset.id)
    st.session_state[NEW_NAME_KEY] = ""
    ws.flash = ("success", "finetune.dataset.created", {"name": dataset.name})


def _rename(ws: Workspace, dataset: Dataset, lang: str) -> None:
    try:
        renamed = store().rename(dataset.id, st.session_state.get(RENAME_KEY, ""))
    except PlaygroundError as err:
        ws.flash = ("error", "finetune.dataset.not_renamed", {"reason": problem_text(err, lang)})
        return
    except OSError as err:
        ws.flash = ("error", "finetune.save_failed", {"reason": str(err)})
        return
    dataset.name = renamed.name
    ws.revision += 1
    ws.flash = ("success", "finetune.dataset.renamed", {"name": renamed.name})


def _duplicate(ws: Workspace, dataset: Dataset, lang: str) -> None:
    try:
        name = store().copy_name(dataset.name, t("finetune.dataset.copy", lang))
        copy = store().duplicate(dataset.id, name)
    except (PlaygroundError, OSError) as err:
        reason = problem_text(err, lang) if isinstance(err, PlaygroundError) else str(err)
        ws.flash = ("error", "finetune.dataset.not_created", {"reason": reason})
        return
    open_dataset(ws, copy.id)
    ws.flash = ("success", "finetune.dataset.duplicated", {"name": copy.name})


def _delete(ws: Workspace, dataset: Dataset) -> None:
    try:
        store().delete(dataset.id)
    except OSError as err:
        ws.flash = ("error", "finetune.save_failed", {"reason": str(err)})
        return
    open_dataset(ws, None)
    ws.flash = ("success", "finetune.dataset.deleted", {"name": dataset.name})


def _pick(ws: Workspace) -> None:
    open_dataset(ws, st.session_state.get(PICK_KEY))


def _new_form(ws: Workspace, lang: str) -> None:
    st.text_input(t("finetune.dataset.name", lang), key=NEW_NAME_KEY, max_chars=80,
                  placeholder=t("finetune.dataset.name_placeholder", lang))
    st.button(t("finetune.dataset.create", lang), key="ft.create", type="primary", icon=":material/add:",
              on_click=_create, args=(ws, lang))


def render_dataset_bar(ws: Workspace, lang: str) -> Dataset | None:
    """The dataset picker and its actions; returns the open dataset (None when there is none)."""
    infos = store().list_datasets()
    if not infos:
        st.info(t("finetune.dataset.none", lang), icon=":material/dataset:")
        _new_form(ws, lang)
        return None
    by_id = {d.id: d for d in infos}
    dataset = current(ws)  # on a fresh session, the one named in the page URL
    if dataset is None or dataset.id not in by_id:
        dataset = open_dataset(ws, infos[0].id)
    if dataset is None:  # listed but unreadable
        st.error(t("finetune.dataset.unreadable", lang, name=infos[0].name))
        return None
    st.session_state[PICK_KEY] = dataset.id
    row = st.container(horizontal=True, vertical_alignment="bottom")
    with row:
        st.selectbox(t("finetune.dataset.pick", lang), list(by_id), key=PICK_KEY, on_change=_pick, args=(ws,),
                     format_func=lambda i: t("finetune.dataset.option", lang, name=by_id[i].name,
                                             count=len(dataset.examples) if i == dataset.id
                                             else by_id[i].count), width=360)
        with st.popover(t("finetune.dataset.new", lang), icon=":material/add:"):
            _new_form(ws, lang)
        with st.popover(t("finetune.dataset.rename", lang), icon=":material/edit:"):
            if st.session_state.get(f"{RENAME_KEY}.for") != dataset.id:  # another dataset was opened
                st.session_state[RENAME_KEY] = dataset.name
                st.session_state[f"{RENAME_KEY}.for"] = dataset.id
            st.text_input(t("finetune.dataset.name", lang), key=RENAME_KEY, max_chars=80)
            st.button(t("finetune.dataset.rename_button", lang), key="ft.rename",
                      on_click=_rename, args=(ws, dataset, lang))
        st.button(t("finetune.dataset.duplicate", lang), key="ft.duplicate", icon=":material/content_copy:",
                  on_click=_duplicate, args=(ws, dataset, lang))
        with st.popover(t("finetune.dataset.delete", lang), icon=":material/delete:"):
            st.write(t("finetune.dataset.delete_confirm", lang, name=md(dataset.name),
                       count=len(dataset.examples)))
            st.button(t("finetune.dataset.delete_button", lang), key="ft.delete", type="primary",
                      on_click=_delete, args=(ws, dataset))
    return dataset
