"""Run one answer: stream it into the page, keep it (whole, stopped or cut), report any error."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.backend_picker import Selection
from components.saved_conversation import autosave
from core.answer_stats import stats_line
from core.chat import ChatRecord, ChatStream
from core.errors import PlaygroundError
from core.i18n import t
from core.messages import Conversation, Message, Role

ERROR_KEY = "chat.error"
CURSOR = " ▌"


def last_error() -> PlaygroundError | None:
    return st.session_state.get(ERROR_KEY)


def set_error(err: PlaygroundError | None) -> None:
    st.session_state[ERROR_KEY] = err


def run_answer(conv: Conversation, sel: Selection, values: dict[str, Any], stream: bool,
               slot: Any, lang: str) -> None:
    """Ask the selected model for the next assistant message and append it to `conv`.

    A stop (button, chat input or any click during the stream) interrupts the script; the
    `finally` keeps the text that arrived, marked as stopped.
    """
    set_error(None)
    try:
        request = sel.backend.prepare(sel.endpoint, sel.model_id, conv.to_api(), values, stream)
        answer = sel.backend.open_stream(request, sel.endpoint, sel.connection)
    except PlaygroundError as err:
        set_error(err)
        return
    finished = False
    with slot, st.chat_message("assistant"):
        st.button(t("chat.stop", lang), key="chat.stop", icon=":material/stop_circle:",
                  help=t("chat.stop_help", lang))
        body, status = st.empty(), st.empty()
        try:
            _show_progress(answer, body, status, stream, lang)
            finished = True
        finally:
            record = answer.record if answer.done else answer.stop()
            _keep(conv, record)
            autosave(conv)  # a stop ends the script: save before the next run could
            if not finished:
                _settle(body, status, record, lang)
    if finished:
        st.rerun()


def _show_progress(answer: ChatStream, body: Any, status: Any, stream: bool, lang: str) -> None:
    for delta in answer.events(poll_s=0.1):
        if delta is None:
            if not answer.text:
                key = "chat.waiting_first" if stream else "chat.waiting_whole"
                status.caption(t(key, lang, seconds=answer.elapsed_s))
            continue
        status.empty()
        body.markdown(answer.text + CURSOR)


def _keep(conv: Conversation, record: ChatRecord) -> None:
    """Append what came back; an error with nothing received leaves the conversation as it was."""
    if record.text or record.outcome == "ok":
        conv.messages.append(Message(role=Role.ASSISTANT, content=record.text,
                                     stats=record.stats(), stopped=record.outcome != "ok"))
    if record.error is not None:
        set_error(record.error)


def _settle(body: Any, status: Any, record: ChatRecord, lang: str) -> None:
    """After a stop without a rerun, redraw the partial answer without the cursor."""
    try:
        body.markdown(record.text)
        status.caption(stats_line(record.stats(), lang))
    except Exception:
        pass
