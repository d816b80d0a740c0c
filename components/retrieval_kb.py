"""Choosing and managing knowledge bases: pick one (kept in the page URL), create, rename, delete."""

from __future__ import annotations

import streamlit as st

from components.identity import owner_id
from components.retrieval_access import option_label, render_sharing
from components.retrieval_feedback import kb_store, md, show_problem
from components.state import durable
from core.errors import PlaygroundError
from core.i18n import t
from core.markup import md as shown_name
from core.retrieval.errors import retrieval_error
from core.retrieval.knowledge_base import KnowledgeBase

KB_KEY = "retrieval.kb_id"  # the chosen knowledge base (also ?kb= in the URL)
PROBLEM_KEY = "retrieval.kb_problem"
NOTICE_KEY = "retrieval.kb_notice"
GONE_KEY = "retrieval.kb_gone"  # the chosen one was unshared (or deleted) elsewhere: say so once


def _choose(kb_id: str | None) -> None:
    st.session_state[KB_KEY] = kb_id
    if kb_id:
        st.query_params["kb"] = kb_id
    elif "kb" in st.query_params:
        del st.query_params["kb"]


def _create(name_key: str) -> None:
    try:
        kb = kb_store().create(st.session_state.get(name_key) or "")
    except PlaygroundError as err:
        st.session_state[PROBLEM_KEY] = err  # the typed name stays in its box
        return
    st.session_state[name_key] = ""
    st.session_state.pop(PROBLEM_KEY, None)
    _choose(kb.id)


def _rename(kb_id: str, name_key: str) -> None:
    try:
        kb_store().rename(kb_id, st.session_state.get(name_key) or "")
    except PlaygroundError as err:
        st.session_state[PROBLEM_KEY] = err
        return
    st.session_state.pop(PROBLEM_KEY, None)


def _delete(kb_id: str, lang: str) -> None:
    from components.retrieval_dense import vector_sink_or_none

    kb = kb_store().get(kb_id)
    if kb is None:
        return
    name = kb.name
    try:
        kb_store().delete(kb_id, sink=vector_sink_or_none())
    except PlaygroundError as err:
        st.session_state[PROBLEM_KEY] = err
        return
    except OSError as err:
        st.session_state[PROBLEM_KEY] = retrieval_error("retrieval.error.disk", detail=str(err))
        return
    st.session_state[NOTICE_KEY] = t("retrieval.kb.deleted", lang, name=md(name))
    remaining = kb_store().list()
    _choose(remaining[-1].id if remaining else None)


def current_kb() -> KnowledgeBase | None:
    """The chosen knowledge base: this session's choice, else the URL's, else the newest."""
    store = kb_store()
    chosen = durable(KB_KEY, lambda: st.query_params.get("kb"))
    kb = store.get(chosen)
    if kb is None:
        if chosen and owner_id() is not None:
            st.session_state[GONE_KEY] = True  # never says whether it exists: it may be someone else's
        bases = store.list()
        kb = bases[-1] if bases else None
        _choose(kb.id if kb else None)
    elif st.query_params.get("kb") != kb.id:
        st.query_params["kb"] = kb.id
    return kb


def render_kb_picker(lang: str) -> KnowledgeBase | None:
    """The knowledge base selector with its management actions; returns the chosen one."""
    kb = current_kb()
    bases = kb_store().list()
    names = {b.id: option_label(b, lang) for b in bases}
    if kb is not None:
        widget = "widget.retrieval.kb"
        st.session_state[widget] = kb.id
        st.selectbox(t("retrieval.kb.choose", lang), list(names), key=widget,
                     format_func=lambda i: names.get(i, i),
                     on_change=lambda: _choose(st.session_state.get(widget)))
        render_sharing(kb, lang)  # with sign-in: the owner's switch, or whose it is
    else:
        st.info(t("retrieval.kb.none_yet", lang), icon=":material/library_add:")
    if st.session_state.pop(GONE_KEY, False):
        st.warning(t("retrieval.access.not_found", lang), icon=":material/lock:")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")
    with st.expander(t("retrieval.kb.manage", lang), expanded=kb is None):
        _render_manage(kb, lang)
    return kb


def _render_manage(kb: KnowledgeBase | None, lang: str) -> None:
    problem = st.session_state.get(PROBLEM_KEY)
    if problem is not None:
        show_problem(problem, lang)
    new_col, edit_col = st.columns(2)
    with new_col:
        st.text_input(t("retrieval.kb.new_name", lang), key="retrieval.kb.new_name",
                      placeholder=t("retrieval.kb.new_placeholder", lang), max_chars=60)
        st.button(t("retrieval.kb.create", lang), key="retrieval.kb.create", icon=":material/add:",
                  on_click=_create, args=("retrieval.kb.new_name",))
        st.button(t("retrieval.kb.sample", lang), key="retrieval.kb.sample", icon=":material/science:",
                  help=t("retrieval.kb.sample_help", lang), on_click=_load_sample, args=(lang,))
    if kb is None:
        return
    if not kb.can_manage:
        edit_col.caption(t("retrieval.access.owner_only", lang, owner=shown_name(kb.ownership()[0])))
        return
    with edit_col:
        rename_key = f"retrieval.kb.rename.{kb.id}"
        if rename_key not in st.session_state:
            st.session_state[rename_key] = kb.name
        st.text_input(t("retrieval.kb.rename_label", lang), key=rename_key, max_chars=60)
        st.button(t("retrieval.kb.rename", lang), key="retrieval.kb.rename", icon=":material/edit:",
                  on_click=_rename, args=(kb.id, rename_key))
        confirm = st.checkbox(t("retrieval.kb.confirm_delete", lang, name=md(kb.name)),
                              key=f"retrieval.kb.confirm.{kb.id}")
        st.button(t("retrieval.kb.delete", lang), key="retrieval.kb.delete", icon=":material/delete:",
                  disabled=not confirm, on_click=_delete, args=(kb.id, lang))


def _load_sample(lang: str) -> None:
    from core.retrieval.sample import load_sample_kb

    try:
        kb = load_sample_kb(kb_store(), t("retrieval.kb.sample_name", lang))
    except PlaygroundError as err:
        st.session_state[PROBLEM_KEY] = err
        return
    st.session_state.pop(PROBLEM_KEY, None)
    st.session_state[NOTICE_KEY] = t("retrieval.kb.sample_loaded", lang, name=md(kb.name))
    _choose(kb.id)
