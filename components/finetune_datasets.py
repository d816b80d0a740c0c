"""The dataset bar of the fine-tune page: pick a dataset, create, rename, duplicate or delete one.

In a team deployment it lists only the datasets this user may see (their own, shared ones, and
those made before sign-in), and its owner may share a dataset with the team.
"""

from __future__ import annotations

import streamlit as st

from components.finetune_state import Workspace, attempt, current, md, open_dataset, problem_text, store
from components.identity import owner_id
from core.errors import PlaygroundError
from core.finetune.dataset import Dataset, valid_dataset_id
from core.i18n import t

NEW_NAME_KEY = "widget.ft.new_name"
RENAME_KEY = "widget.ft.rename"
PICK_KEY = "widget.ft.dataset"
SHARE_KEY = "widget.ft.shared"


def _create(ws: Workspace, lang: str) -> None:
    name = st.session_state.get(NEW_NAME_KEY, "")
    dataset = attempt(ws, lambda: store().create(name), "finetune.dataset.not_created", lang)
    if dataset is None:
        return
    open_dataset(ws, dataset.id)
    st.session_state[NEW_NAME_KEY] = ""
    ws.flash = ("success", "finetune.dataset.created", {"name": dataset.name})


def _rename(ws: Workspace, dataset: Dataset, lang: str) -> None:
    renamed = attempt(ws, lambda: store().rename(dataset.id, st.session_state.get(RENAME_KEY, "")),
                      "finetune.dataset.not_renamed", lang)
    if renamed is None:
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


def _delete(ws: Workspace, dataset: Dataset, lang: str) -> None:
    if not attempt(ws, lambda: store().delete(dataset.id) or True, "access.dataset.refused", lang):
        return  # not this user's to delete, or the disk said no
    open_dataset(ws, None)
    ws.flash = ("success", "finetune.dataset.deleted", {"name": dataset.name})


def _share(ws: Workspace, dataset: Dataset, lang: str) -> None:
    changed = attempt(ws, lambda: store().set_shared(dataset.id, bool(st.session_state.get(SHARE_KEY))),
                      "access.dataset.refused", lang)
    if changed is None:
        return
    dataset.shared = changed.shared


def _render_sharing(ws: Workspace, dataset: Dataset, lang: str) -> None:
    """The owner's "shared with the team" switch, or whose dataset this is (with sign-in only)."""
    viewer = owner_id()
    if viewer is None:
        return
    if dataset.owner == viewer:
        st.session_state[SHARE_KEY] = dataset.shared
        st.toggle(t("access.dataset.shared", lang), key=SHARE_KEY, on_change=_share, args=(ws, dataset, lang),
                  help=t("access.dataset.shared_help", lang))
    elif not dataset.owner:
        st.caption(t("access.dataset.team", lang))
    else:
        st.caption(t("access.dataset.shared_by", lang, owner=md(dataset.owner)))


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
        if ws.dataset is not None or valid_dataset_id(st.query_params.get("d")):
            st.warning(t("access.dataset.not_found", lang), icon=":material/lock:")
            open_dataset(ws, None)  # one no longer shared with this user is dropped from memory too
        st.info(t("finetune.dataset.none", lang), icon=":material/dataset:")
        _new_form(ws, lang)
        return None
    by_id = {d.id: d for d in infos}
    wanted = ws.dataset.id if ws.dataset is not None else st.query_params.get("d")
    if wanted in by_id:
        dataset = current(ws)  # on a fresh session, the one named in the page URL
    else:  # none yet, or one this user may not (or no longer) see: never opened
        if valid_dataset_id(wanted):
            ws.flash = ("warning", "access.dataset.not_found", {})
        dataset = None
    if dataset is None or dataset.id not in by_id:
        dataset = open_dataset(ws, infos[0].id)
    if dataset is None:  # listed but unreadable
        st.error(t("finetune.dataset.unreadable", lang, name=infos[0].name))
        return None
    st.session_state[PICK_KEY] = dataset.id
    dataset.owner, dataset.shared = by_id[dataset.id].owner, by_id[dataset.id].shared  # as on disk now
    manage = store().can_manage(dataset.owner)  # rename, delete: the owner's
    row = st.container(horizontal=True, vertical_alignment="bottom")
    with row:
        st.selectbox(t("finetune.dataset.pick", lang), list(by_id), key=PICK_KEY, on_change=_pick, args=(ws,),
                     format_func=lambda i: t("finetune.dataset.option", lang, name=by_id[i].name,
                                             count=len(dataset.examples) if i == dataset.id
                                             else by_id[i].count), width=360)
        with st.popover(t("finetune.dataset.new", lang), icon=":material/add:"):
            _new_form(ws, lang)
        with st.popover(t("finetune.dataset.rename", lang), icon=":material/edit:", disabled=not manage):
            if st.session_state.get(f"{RENAME_KEY}.for") != dataset.id:  # another dataset was opened
                st.session_state[RENAME_KEY] = dataset.name
                st.session_state[f"{RENAME_KEY}.for"] = dataset.id
            st.text_input(t("finetune.dataset.name", lang), key=RENAME_KEY, max_chars=80)
            st.button(t("finetune.dataset.rename_button", lang), key="ft.rename",
                      on_click=_rename, args=(ws, dataset, lang))
        st.button(t("finetune.dataset.duplicate", lang), key="ft.duplicate", icon=":material/content_copy:",
                  on_click=_duplicate, args=(ws, dataset, lang))
        with st.popover(t("finetune.dataset.delete", lang), icon=":material/delete:", disabled=not manage):
            st.write(t("finetune.dataset.delete_confirm", lang, name=md(dataset.name),
                       count=len(dataset.examples)))
            st.button(t("finetune.dataset.delete_button", lang), key="ft.delete", type="primary",
                      on_click=_delete, args=(ws, dataset, lang))
    _render_sharing(ws, dataset, lang)
    return dataset
