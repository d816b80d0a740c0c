"""The conversation as an editable list: edit, switch role, move, delete, add without running."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from components.chat_runner import set_error
from components.state import durable
from core.answer_stats import stats_line
from core.i18n import t
from core.messages import Conversation, Message, Role

EDITING_KEY = "chat.editing"  # ids of messages open for editing


def editing() -> set[str]:
    return durable(EDITING_KEY, set)


def _edited(change: Callable[..., Any]) -> Callable[..., None]:
    """A change to the conversation: the last run's error no longer describes it, so it goes."""

    def apply(*args: Any) -> None:
        change(*args)
        set_error(None)

    return apply


def render_system(conv: Conversation, lang: str) -> None:
    """The system message box: kept in the conversation as the user types."""
    key = "widget.system"
    if st.session_state.get(key) != conv.system:
        st.session_state[key] = conv.system

    def write_back() -> None:
        conv.system = st.session_state[key]

    st.text_area(t("chat.system", lang), key=key, on_change=_edited(write_back), height=90,
                 placeholder=t("chat.system_placeholder", lang), help=t("chat.system_help", lang))


def render_messages(conv: Conversation, lang: str) -> None:
    """Every message with its actions. Text is rendered as markdown; raw HTML is never run."""
    if not conv.messages:
        st.caption(t("chat.empty", lang))
    for position, message in enumerate(conv.messages):
        with st.chat_message(message.role.value):
            if message.id in editing():
                _edit_box(conv, message, lang)
            elif message.content.strip():
                st.markdown(message.content)
            else:
                st.caption(t("chat.empty_message", lang))
            if message.role is Role.ASSISTANT and message.stats:
                st.caption(stats_line(message.stats, lang))
            _actions(conv, message, position, lang)


def render_add_buttons(conv: Conversation, lang: str) -> None:
    """Add a user or assistant message without running the model (few-shot examples)."""
    row = st.container(horizontal=True)
    for role in (Role.USER, Role.ASSISTANT):
        row.button(t(f"chat.add_{role.value}", lang), key=f"add.{role.value}", icon=":material/add:",
                   on_click=_edited(_add), args=(conv, role))


def _add(conv: Conversation, role: Role) -> None:
    editing().add(conv.add(role).id)


def _edit_box(conv: Conversation, message: Message, lang: str) -> None:
    key = f"widget.msg.{message.id}"
    if st.session_state.get(key) != message.content:
        st.session_state[key] = message.content

    def write_back() -> None:
        if message.content != st.session_state[key] and message.stats is not None:
            message.stats["edited"] = True  # the timing and tokens describe the original answer
        message.content = st.session_state[key]

    st.text_area(t("chat.edit_label", lang, role=t(f"role.{message.role.value}", lang)), key=key,
                 on_change=_edited(write_back), height=120, label_visibility="collapsed",
                 placeholder=t(f"chat.placeholder_{message.role.value}", lang))


def _actions(conv: Conversation, message: Message, position: int, lang: str) -> None:
    row = st.container(horizontal=True, gap="small")
    mid = message.id
    is_editing = mid in editing()
    row.button(t("chat.done" if is_editing else "chat.edit", lang), key=f"msg.{mid}.edit",
               icon=":material/check:" if is_editing else ":material/edit:", type="tertiary",
               on_click=_toggle_edit, args=(mid,))
    other = Role.ASSISTANT if message.role is Role.USER else Role.USER
    row.button(t("chat.make_role", lang, role=t(f"role.{other.value}", lang)), key=f"msg.{mid}.role",
               icon=":material/swap_horiz:", type="tertiary", on_click=_edited(conv.toggle_role), args=(mid,))
    row.button("", key=f"msg.{mid}.up", icon=":material/arrow_upward:", type="tertiary",
               help=t("chat.move_up", lang), disabled=position == 0,
               on_click=_edited(conv.move), args=(mid, -1))
    row.button("", key=f"msg.{mid}.down", icon=":material/arrow_downward:", type="tertiary",
               help=t("chat.move_down", lang), disabled=position == len(conv.messages) - 1,
               on_click=_edited(conv.move), args=(mid, 1))
    row.button("", key=f"msg.{mid}.delete", icon=":material/delete:", type="tertiary",
               help=t("chat.delete", lang), on_click=_edited(_delete), args=(conv, mid))


def _toggle_edit(message_id: str) -> None:
    ids = editing()
    if message_id in ids:
        ids.discard(message_id)
    else:
        ids.add(message_id)


def _delete(conv: Conversation, message_id: str) -> None:
    conv.delete(message_id)
    editing().discard(message_id)
