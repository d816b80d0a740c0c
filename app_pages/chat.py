"""Chat page: a system prompt, an editable conversation, and answers streamed from any backend."""

from __future__ import annotations

import streamlit as st

from components.backend_picker import picker_state
from components.chat_runner import (
    forget_if_settings_changed,
    last_error,
    run_answer,
    set_error,
    show_empty_answer,
)
from components.conversation_cost import render_conversation_cost
from components.error_box import show_error
from components.finetune_add_to_dataset import render_add_to_dataset
from components.language import current_language
from components.message_editor import editing, render_add_buttons, render_messages, render_system
from components.presets_panel import render_chat_presets
from components.saved_conversation import autosave, open_conversation
from components.sidebar import current_selection
from components.state import bound
from components.view_code import render_view_code
from core.i18n import t
from core.messages import Conversation, Role

PENDING_KEY = "chat.pending"  # set by a button or the chat input, acted on in the same run


def _request(kind: str) -> None:
    st.session_state[PENDING_KEY] = kind


def _submit(conv: Conversation) -> None:
    text = st.session_state.get("chat.input")
    if text and text.strip():
        conv.add(Role.USER, text)
        _request("run")


def _regenerate(conv: Conversation) -> None:
    conv.drop_last_answer()
    _request("run")


def _clear(conv: Conversation) -> None:
    conv.clear()
    editing().clear()
    set_error(None)


lang = current_language()
conv = open_conversation()
selection, values = current_selection()
forget_if_settings_changed(selection, values)

st.title(t("chat.title", lang))
st.caption(t("chat.subtitle", lang, model=selection.model_id or "—",
             backend=t(selection.backend.label_key, lang)))
render_conversation_cost(conv, lang)
render_system(conv, lang)
render_messages(conv, lang)
answer_slot = st.container()

error = last_error()  # right under the message it is about, above the editing buttons
if error is not None:
    show_error(error, lang)
    if conv.messages and conv.messages[-1].role is Role.USER:
        st.caption(t("chat.retry_hint", lang))
show_empty_answer(lang)
render_add_buttons(conv, lang)

actions = st.container(horizontal=True, vertical_alignment="center")
actions.button(t("chat.run", lang), key="chat.run", type="primary", icon=":material/play_arrow:",
               on_click=_request, args=("run",), help=t("chat.run_help", lang))
actions.button(t("chat.regenerate", lang), key="chat.regenerate", icon=":material/refresh:",
               on_click=_regenerate, args=(conv,), help=t("chat.regenerate_help", lang),
               disabled=not conv.messages)
actions.button(t("chat.clear", lang), key="chat.clear", icon=":material/delete_sweep:",
               on_click=_clear, args=(conv,), disabled=not conv.messages and error is None)
with actions:
    bound(st.toggle, t("chat.stream", lang), picker_state(), "stream", "widget.stream",
          help=t("chat.stream_help", lang))
    render_add_to_dataset(conv, lang)  # save the conversation as a fine-tune example

render_view_code(conv, selection, values, lang)  # the request as Python (openai, zhipuai) and curl
render_chat_presets(conv, lang)  # save, load, export, import and share the whole setup

# "disable", not "stop": a stop from the input box ends the run without a redraw, so the page
# would keep a stale cursor; the Stop button inside the answer reruns and marks the answer.
st.chat_input(t("chat.input_placeholder", lang), key="chat.input", submit_mode="disable",
              on_submit=_submit, args=(conv,))

autosave(conv)
if st.session_state.pop(PENDING_KEY, None):
    run_answer(conv, selection, values, picker_state()["stream"], answer_slot, lang)
    if last_error() is not None:
        st.rerun()  # draw the error where it belongs, above the actions
