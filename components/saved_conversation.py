"""The chat's conversation, tied to the page URL (?c=<id>) and saved on every change."""

from __future__ import annotations

import json

import streamlit as st

from components.backend_picker import load_settings, picker_state, restore_picker
from components.identity import current_user_id
from components.language import current_language
from core.conversation_store import ConversationStore, new_conversation_id, valid_id
from core.i18n import t
from core.messages import Conversation

CONV_KEY = "chat.conversation"
CONV_ID_KEY = "chat.conversation_id"
SAVED_KEY = "chat.saved_snapshot"  # what is on disk, to skip writing an unchanged conversation
NOT_YOURS_KEY = "chat.not_yours"  # the URL named a conversation this user may not open


def _store() -> ConversationStore:
    """The signed-in user's conversations (everyone's, without sign-in)."""
    return ConversationStore(load_settings().data_dir, owner=current_user_id())


def restore_session() -> None:
    """On a session's first run, take back the conversation and sidebar choices named in the URL.

    Called by the router before the sidebar is drawn, so the restored model and parameters show.
    """
    if CONV_KEY in st.session_state:
        return
    cid = st.query_params.get("c")
    store = _store()
    saved = store.load_with_settings(cid) if valid_id(cid) else None
    if saved is None:
        if store.held_elsewhere(cid):
            st.session_state[NOT_YOURS_KEY] = True
        cid, conv = new_conversation_id(), Conversation()
    else:
        conv, settings = saved
        if settings:
            restore_picker(settings)
    st.session_state[CONV_KEY] = conv
    st.session_state[CONV_ID_KEY] = cid
    st.session_state[SAVED_KEY] = _snapshot(conv)


def open_conversation() -> Conversation:
    """This session's conversation, its id kept in the page URL so a refresh finds it again."""
    restore_session()
    if st.query_params.get("c") != st.session_state[CONV_ID_KEY]:
        st.query_params["c"] = st.session_state[CONV_ID_KEY]
    if st.session_state.pop(NOT_YOURS_KEY, None):
        st.warning(t("access.conversation_not_found", current_language()), icon=":material/lock:")
    return st.session_state[CONV_KEY]


def _snapshot(conv: Conversation) -> str:
    return json.dumps([conv.to_dict(), picker_state()], ensure_ascii=False, sort_keys=True)


def autosave(conv: Conversation) -> None:
    """Write the conversation and the sidebar choices if they changed. Never raises."""
    snapshot = _snapshot(conv)
    if snapshot == st.session_state.get(SAVED_KEY):
        return
    if _store().save(st.session_state[CONV_ID_KEY], conv, settings=picker_state()):
        st.session_state[SAVED_KEY] = snapshot
