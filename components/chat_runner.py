"""Run one answer: stream it into the page, keep it (whole, stopped or cut), report any error."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.backend_picker import Selection
from components.identity import limit_refusal
from components.saved_conversation import autosave
from components.usage_hook import call_recorder
from core.answer_stats import stats_line
from core.chat import ChatRecord, ChatStream
from core.errors import PlaygroundError
from core.i18n import t
from core.messages import Conversation, Message, Role

ERROR_KEY = "chat.error"
EMPTY_KEY = "chat.empty_answer"  # stats of an answer that came back empty, shown instead of kept
NOTICES_KEY = "chat.notices"  # what the last run said besides its answer (older turns left out, ...)
ASKED_KEY = "chat.asked_with"  # the sidebar settings of the last run, to tell when they changed
CURSOR = " ▌"


def last_error() -> PlaygroundError | None:
    return st.session_state.get(ERROR_KEY)


def set_error(err: PlaygroundError | None) -> None:
    """Set (or with None clear) what the last run reports: its error, or an empty answer."""
    st.session_state[ERROR_KEY] = err
    if err is None:
        st.session_state.pop(EMPTY_KEY, None)
        st.session_state.pop(NOTICES_KEY, None)


def _settings(sel: Selection, values: dict[str, Any]) -> str:
    """What the sidebar decided for a run (where the key came from, never the key itself)."""
    return repr((sel.slot, sel.model_id, sel.connection.base_url, sel.key_source,
                 sorted(values.items())))


def forget_if_settings_changed(sel: Selection, values: dict[str, Any]) -> None:
    """A report about the last run is stale once the sidebar changed (a key typed, a model
    picked, a parameter fixed): drop it rather than show, say, "no API key" under a new key."""
    if st.session_state.get(ASKED_KEY) not in (None, _settings(sel, values)):
        set_error(None)
        st.session_state.pop(ASKED_KEY, None)


def show_empty_answer(lang: str) -> None:
    """Say so when the last answer finished with no text at all (it was not kept); also show
    what the backend told about the last run, such as older turns left out to fit the context."""
    for notice in st.session_state.get(NOTICES_KEY) or ():
        st.info(t(notice.key, lang, **notice.params), icon=":material/info:")
    stats = st.session_state.get(EMPTY_KEY)
    if stats is not None:
        st.warning(t("chat.empty_answer", lang), icon=":material/warning:")
        st.caption(stats_line(stats, lang))


def run_answer(conv: Conversation, sel: Selection, values: dict[str, Any], stream: bool,
               slot: Any, lang: str) -> None:
    """Ask the selected model for the next assistant message and append it to `conv`.

    A stop (the Stop button, or any other click during the stream) interrupts the script; the
    `finally` keeps the text that arrived, marked as stopped.
    """
    set_error(None)
    st.session_state[ASKED_KEY] = _settings(sel, values)
    refusal = limit_refusal(sel.key_source)  # over a per-user limit: nothing sent, the message kept
    if refusal is not None:
        set_error(refusal)
        return
    try:
        request = sel.backend.prepare(sel.endpoint, sel.model_id, conv.to_api(), values, stream)
        answer = sel.backend.open_stream(request, sel.endpoint, sel.connection,
                                         on_finish=call_recorder("chat", sel, request))
    except PlaygroundError as err:
        set_error(err)
        return
    finished = False
    with slot, st.chat_message("assistant"):
        st.button(t("chat.stop", lang), key="chat.stop", icon=":material/stop_circle:",
                  help=t("chat.stop_help", lang))
        body, status = st.empty(), st.empty()
        try:
            show_progress(answer, body, status, stream, lang)
            finished = True
        finally:
            record = answer.record if answer.done else answer.stop()
            _keep(conv, record)
            autosave(conv)  # a stop ends the script: save before the next run could
            if not finished:
                _settle(body, status, record, lang)
    if finished:
        st.rerun()


def show_progress(answer: ChatStream, body: Any, status: Any, stream: bool, lang: str) -> None:
    """Draw a streaming answer into `body` (with a cursor) and, until its first word, what it waits
    for into `status` (for how long, or the backend's own status such as a local model's queue)."""
    for delta in answer.events(poll_s=0.1):
        if delta is None:
            if not answer.text:
                key = "chat.waiting_first" if stream else "chat.waiting_whole"
                waiting = answer.record.status  # e.g. the local model's queue: "2 ahead of you"
                if waiting is not None:
                    status.caption(t(waiting.key, lang, **{"seconds": answer.elapsed_s, **waiting.params}))
                else:
                    status.caption(t(key, lang, seconds=answer.elapsed_s))
            continue
        status.empty()
        body.markdown(answer.text + CURSOR)


def _keep(conv: Conversation, record: ChatRecord) -> None:
    """Append what came back; nothing received leaves the conversation as it was.

    An empty answer is not kept: an empty message would block every later send.
    """
    if record.text:
        conv.messages.append(Message(role=Role.ASSISTANT, content=record.text,
                                     stats=record.stats(), stopped=record.outcome != "ok"))
    elif record.outcome == "ok":
        st.session_state[EMPTY_KEY] = record.stats()
    if record.error is not None:
        set_error(record.error)
    if record.notices:
        st.session_state[NOTICES_KEY] = list(record.notices)


def _settle(body: Any, status: Any, record: ChatRecord, lang: str) -> None:
    """After a stop without a rerun, redraw the partial answer without the cursor."""
    try:
        body.markdown(record.text)
        status.caption(stats_line(record.stats(), lang))
    except Exception:
        pass
