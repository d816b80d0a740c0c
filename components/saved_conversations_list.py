"""The sidebar's saved conversations: open one (with its model and parameters), rename, delete."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from components.backend_picker import load_settings
from components.chat_runner import set_error
from components.identity import current_user_id
from components.language import current_language
from components.message_editor import editing
from components.saved_conversation import CONV_ID_KEY, CONV_KEY, restore_session
from core.conversation_store import new_conversation_id
from core.i18n import t
from core.saved_conversations import SavedConversations

OPENED_KEY = "saved.opened"  # set by a click: go to the chat page to show what was opened
NOTICE_KEY = "saved.notice"
CHAT_PAGE = "app_pages/chat.py"


def _saved() -> SavedConversations:
    """The signed-in user's conversations (everyone's, without sign-in)."""
    return SavedConversations(load_settings().data_dir, owner=current_user_id())


def _open(conversation_id: str) -> None:
    """Make this the session's conversation; restore_session reads it and its sidebar choices."""
    st.session_state.pop(CONV_KEY, None)
    st.query_params["c"] = conversation_id
    restore_session()
    editing().clear()
    set_error(None)
    st.session_state[OPENED_KEY] = st.session_state[CONV_ID_KEY]


def _new() -> None:
    _open(new_conversation_id())


def _rename(conversation_id: str, widget_key: str) -> None:
    try:
        _saved().rename(conversation_id, st.session_state.get(widget_key) or "")
    except (OSError, ValueError) as err:
        st.session_state[NOTICE_KEY] = t("saved.disk_error", current_language(), reason=type(err).__name__)


def _delete(conversation_id: str) -> None:
    _saved().delete(conversation_id)
    if st.session_state.get(CONV_ID_KEY) == conversation_id:
        _new()  # the open one is gone: start an empty one rather than keep showing it


def render_saved_conversations(lang: str) -> None:
    """A folded list in the sidebar; a click on a title opens it on the chat page."""
    opened = st.session_state.pop(OPENED_KEY, None)
    if opened:
        try:
            st.switch_page(CHAT_PAGE, query_params={"c": opened})
        except StreamlitAPIException:
            # The pages are known from this session's earlier runs; where they are not (a test
            # harness that starts each run afresh), the conversation is open for the chat page.
            pass
    items = _saved().newest()
    current = st.session_state.get(CONV_ID_KEY)
    with st.expander(t("saved.title", lang), icon=":material/history:"):
        notice = st.session_state.pop(NOTICE_KEY, None)
        if notice:
            st.warning(notice)
        st.button(t("saved.new", lang), key="saved.new", icon=":material/add_comment:", on_click=_new,
                  type="tertiary")
        if not items:
            st.caption(t("saved.empty", lang))
        for item in items:
            row = st.container(horizontal=True, vertical_alignment="center", gap="small")
            title = item.title or t("saved.untitled", lang)
            is_open = item.id == current
            hint = t("saved.is_open" if is_open else "saved.open_help", lang, count=item.messages)
            row.button(title, key=f"saved.open.{item.id}", type="tertiary", disabled=is_open,
                       on_click=_open, args=(item.id,), help=hint)
            with row.popover("", icon=":material/more_vert:", key=f"saved.menu.{item.id}"):
                widget_key = f"saved.title.{item.id}"
                st.text_input(t("saved.rename_label", lang), value=item.title, key=widget_key,
                              max_chars=80)
                st.button(t("saved.rename", lang), key=f"saved.rename.{item.id}", on_click=_rename,
                          args=(item.id, widget_key), icon=":material/edit:")
                st.button(t("saved.delete", lang), key=f"saved.delete.{item.id}", on_click=_delete,
                          args=(item.id,), icon=":material/delete:")
