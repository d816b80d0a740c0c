"""The chat's conversation, tied to the page URL (?c=<id>) and saved on every change."""

from __future__ import annotations

import json

import streamlit as st

from core.config import Settings
from core.conversation_store import ConversationStore, new_conversation_id, valid_id
from core.messages import Conversation

CONV_KEY = "chat.conversation"
CONV_ID_KEY = "chat.conversation_id"
SAVED_KEY = "chat.saved_snapshot"  # what is on disk, to skip writing an unchanged conversation


def _store() -> ConversationStore:
    return ConversationStore(Settings.load().data_dir)


def open_conversation() -> Conversation:
    """This session's conversation: the one named in the URL after a refresh, else a new one."""
    if CONV_KEY not in st.session_state:
        cid = st.query_params.get("c")
        conv = _store().load(cid) if valid_id(cid) else None
        if conv is None:
            cid, conv = new_conversation_id(), Conversation()
        st.session_state[CONV_KEY] = conv
        st.session_state[CONV_ID_KEY] = cid
        st.session_state[SAVED_KEY] = json.dumps(conv.to_dict(), ensure_ascii=False)
    if st.query_params.get("c") != st.session_state[CONV_ID_KEY]:
        st.query_params["c"] = st.session_state[CONV_ID_KEY]
    return st.session_state[CONV_KEY]


def autosave(conv: Conversation) -> None:
    """Write the conversation if it changed since the last write. Never raises."""
    snapshot = json.dumps(conv.to_dict(), ensure_ascii=False)
    if snapshot == st.session_state.get(SAVED_KEY):
        return
    if _store().save(st.session_state[CONV_ID_KEY], conv):
        st.session_state[SAVED_KEY] = snapshot
