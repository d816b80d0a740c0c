"""The answer to a retrieval question: streamed from the sidebar's chat backend, with a Stop button,
recorded in the usage ledger with page "retrieval", kept (whole, stopped or cut) with its result.

The streaming loop follows components/chat_runner.py: a stop (any click during the stream)
interrupts the script, and the `finally` keeps what arrived, marked as stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import streamlit as st

from components.backend_picker import Selection, load_settings, picker_state
from components.chat_runner import CURSOR, LEDGER_ERROR_KEY, SESSION_ID_KEY, STORE_TEXT_KEY
from components.error_box import show_error
from components.identity import call_user, limit_refusal
from components.retrieval_feedback import md
from components.sidebar import current_selection
from components.state import durable
from core.answer_stats import stats_line
from core.chat import ChatRecord, ChatRequest
from core.errors import PlaygroundError
from core.i18n import t
from core.retrieval.ask import AskPlan, cited
from core.retrieval.history import error_from_dict, error_to_dict, hits_of


def zhipu_tools_supported(sel: Selection) -> bool:
    """Zhipu's retrieval tool runs on Zhipu's own API (through either SDK)."""
    return sel.backend.id == "zhipu" or sel.endpoint.id == "zhipu_compat"


def _recorder(sel: Selection, request: ChatRequest) -> Callable[[ChatRecord], None] | None:
    from core.pricing import PriceTable
    from core.usage_ledger import LedgerUnavailable, ledger_for
    from core.usage_recording import CallContext, recorder

    settings = load_settings()
    try:
        ledger = ledger_for(settings)
    except LedgerUnavailable as err:
        st.session_state[LEDGER_ERROR_KEY] = err
        return None
    except Exception:
        return None
    try:
        price = PriceTable.load_cached(settings.data_dir).cost
    except Exception:
        price = None
    context = CallContext(session_id=durable(SESSION_ID_KEY, lambda: uuid.uuid4().hex), page="retrieval",
                          backend=sel.backend.id, endpoint=sel.endpoint.id, base_url=sel.connection.base_url,
                          store_text=st.session_state.get(STORE_TEXT_KEY) is True, user_id=call_user())
    return recorder(ledger, context, request, price,
                    on_failure=lambda reason: st.session_state.__setitem__(LEDGER_ERROR_KEY, reason))


def _answer_record(record: ChatRecord | None, sel: Selection,
                   error: PlaygroundError | None) -> dict[str, Any]:
    if record is None:
        return {"text": "", "stats": None, "outcome": "error", "error": error_to_dict(error),
                "model": sel.model_id, "backend": sel.backend.id}
    return {"text": record.text, "stats": record.stats(), "outcome": record.outcome,
            "error": error_to_dict(record.error), "model": record.model, "backend": sel.backend.id}


def stream_answer(plan: AskPlan, ledger_params: dict[str, Any], slot: Any, lang: str,
                  keep: Callable[[dict[str, Any]], None]) -> None:
    """Ask the sidebar's model with the plan's messages (and tools); `keep` gets the answer record,
    also when the user stops it (then from the `finally`, before the script ends)."""
    sel, values = current_selection()
    try:
        refusal = limit_refusal(sel.key_source)  # over a per-user limit: nothing is sent
        if refusal is not None:
            raise refusal
        request = sel.backend.prepare(sel.endpoint, sel.model_id, plan.messages, values,
                                      picker_state().get("stream", True))
        sent = replace(request, params={**request.params, "tools": plan.tools}) if plan.tools else request
        logged = replace(request, params={**request.params, **ledger_params})
        answer = sel.backend.open_stream(sent, sel.endpoint, sel.connection, on_finish=_recorder(sel, logged))
    except PlaygroundError as err:
        keep(_answer_record(None, sel, err))
        return
    with slot, st.chat_message("assistant"):
        st.button(t("chat.stop", lang), key="retrieval.stop", icon=":material/stop_circle:",
                  help=t("chat.stop_help", lang))
        body, status = st.empty(), st.empty()
        try:
            for delta in answer.events(poll_s=0.1):
                if delta is None:
                    if not answer.text:
                        status.caption(t("chat.waiting_first", lang, seconds=answer.elapsed_s))
                    continue
                status.empty()
                body.markdown(answer.text + CURSOR)
        finally:
            record = answer.record if answer.done else answer.stop()
            keep(_answer_record(record, sel, None))


def render_answer(result: dict[str, Any], lang: str) -> None:
    """A kept answer: its text (Markdown, raw HTML shown as text), statistics, sources, or its error."""
    answer = result.get("answer")
    if not answer:
        return
    error = error_from_dict(answer.get("error"))
    if answer.get("text"):
        with st.chat_message("assistant"):
            st.markdown(answer["text"])
            if answer.get("stats"):
                st.caption(stats_line(answer["stats"], lang))
            if answer.get("outcome") == "stopped":
                st.caption(t("retrieval.answer.stopped", lang))
    if error is not None:
        show_error(error, lang)
    hits = hits_of(result)
    if answer.get("text") and hits:
        used = {h.rank for h in cited(answer["text"], hits)}
        st.markdown(f"**{t('retrieval.answer.sources', lang)}**")
        for hit in hits:
            mark = "✓" if hit.rank in used else "·"
            st.caption(t("retrieval.answer.source_line", lang, mark=mark, rank=hit.rank,
                         doc=md(hit.chunk.doc_name), position=hit.chunk.position + 1,
                         score=f"{hit.score:.2f}"))
        st.caption(t("retrieval.answer.sources_help", lang))
