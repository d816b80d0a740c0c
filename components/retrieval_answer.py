"""The answer to a retrieval question: streamed from the sidebar's chat backend, with a Stop button,
recorded in the usage ledger with page "retrieval", kept (whole, stopped or cut) with its result.

The answer is drawn by components/chat_runner.py's show_progress: a stop (any click during the
stream) interrupts the script, and the `finally` keeps what arrived, marked as stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import streamlit as st

from components.backend_picker import Selection, picker_state
from components.chat_runner import show_progress
from components.error_box import show_error
from components.identity import limit_refusal
from components.retrieval_feedback import md
from components.sidebar import current_selection
from components.usage_hook import call_recorder
from core.answer_stats import stats_line
from core.chat import ChatRecord
from core.errors import PlaygroundError
from core.i18n import t
from core.retrieval.ask import AskPlan, cited
from core.retrieval.history import error_from_dict, error_to_dict, hits_of


def zhipu_tools_supported(sel: Selection) -> bool:
    """Zhipu's retrieval tool runs on Zhipu's own API (through either SDK)."""
    return sel.backend.id == "zhipu" or sel.endpoint.id == "zhipu_compat"


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
        answer = sel.backend.open_stream(sent, sel.endpoint, sel.connection,
                                         on_finish=call_recorder("retrieval", sel, logged))
    except PlaygroundError as err:
        keep(_answer_record(None, sel, err))
        return
    with slot, st.chat_message("assistant"):
        st.button(t("chat.stop", lang), key="retrieval.stop", icon=":material/stop_circle:",
                  help=t("chat.stop_help", lang))
        body, status = st.empty(), st.empty()
        try:
            show_progress(answer, body, status, sent.stream, lang)
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
