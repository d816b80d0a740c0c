"""Whose a knowledge base is, on the Retrieval page (with sign-in only): the owner's "Shared with the
team" switch, "Shared by <owner>" for a teammate, and a note where a teammate's changing controls
are left out. The rules themselves are in core/retrieval/kb_access.py."""

from __future__ import annotations

import streamlit as st

from components.identity import owner_id
from components.retrieval_feedback import kb_store, show_problem
from core.errors import PlaygroundError
from core.i18n import t
from core.markup import md as shown_name
from core.retrieval.errors import retrieval_error
from core.retrieval.knowledge_base import KnowledgeBase

SHARE_KEY = "widget.retrieval.kb_shared"
SHARE_PROBLEM = "retrieval.share_problem"


def option_label(kb: KnowledgeBase, lang: str) -> str:
    """The picker's text for a knowledge base: its name, and whose it is when it is a teammate's."""
    owner, _ = kb.ownership()
    viewer = owner_id()
    if viewer is None or not owner or owner == viewer:
        return kb.name
    return t("retrieval.access.option_other", lang, name=kb.name, owner=owner)  # plain text, not Markdown


def _share(kb_id: str) -> None:
    try:
        kb_store().set_shared(kb_id, bool(st.session_state.get(SHARE_KEY)))
    except PlaygroundError as err:
        st.session_state[SHARE_PROBLEM] = err
    except OSError as err:
        st.session_state[SHARE_PROBLEM] = retrieval_error("retrieval.error.disk", detail=str(err))


def render_sharing(kb: KnowledgeBase, lang: str) -> None:
    """The owner's switch, or whose this knowledge base is; nothing without sign-in."""
    viewer = owner_id()
    if viewer is None:
        return
    problem = st.session_state.pop(SHARE_PROBLEM, None)
    if problem is not None:
        show_problem(problem, lang)
    owner, shared = kb.ownership()
    if owner == viewer:
        st.session_state[SHARE_KEY] = shared
        st.toggle(t("retrieval.access.shared", lang), key=SHARE_KEY, on_change=_share, args=(kb.id,),
                  help=t("retrieval.access.shared_help", lang))
        if not shared:
            st.caption(t("retrieval.access.private", lang))
    elif not owner:
        st.caption(t("retrieval.access.team", lang))
    else:
        st.caption(t("retrieval.access.shared_by", lang, owner=shown_name(owner)))


def read_only_note(kb: KnowledgeBase, lang: str, key: str = "retrieval.access.read_only") -> bool:
    """For a teammate on someone else's knowledge base: say who may change it (the note `key`).
    True when the controls that would change it are to be left out."""
    if kb.can_manage:
        return False
    st.info(t(key, lang, owner=shown_name(kb.ownership()[0])), icon=":material/lock:")
    return True
