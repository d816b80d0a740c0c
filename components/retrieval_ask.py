"""The Ask tab: template, method, top-k and threshold, the question; the chunks found with their
document, position and score; the exact messages; the answer with its sources.

The ask settings (template, method, top-k, threshold, question) live in the knowledge base's
kb.json and the last result in last_local.json: a refresh or a restart loses nothing. A teammate's
on someone else's shared knowledge base live in a folder of their own (core/retrieval/kb_access.py).
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from components.retrieval_answer import render_answer, stream_answer
from components.retrieval_dense import dense_query_for, dense_status
from components.retrieval_feedback import md, show_problem
from components.retrieval_template import render_template_editor
from components.state import bound, durable
from core.errors import PlaygroundError
from core.i18n import t
from core.markup import md as shown_name
from core.retrieval import kb_access
from core.retrieval.ask import AskPlan, plan_ask
from core.retrieval.history import hits_of, load_result, new_result, save_result
from core.retrieval.knowledge_base import KnowledgeBase
from core.retrieval.search import MAX_TOP_K, METHODS
from core.retrieval.template import SEED_TEMPLATE_ZH, TEMPLATE_EN

RESULTS_KEY = "retrieval.results"  # {(kb id, mode): result dict}
PROBLEM_KEY = "retrieval.ask_problem"
PENDING_KEY = "retrieval.pending"  # "search" | "ask", acted on in the same run


def ask_settings(kb: KnowledgeBase, lang: str) -> dict[str, Any]:
    """This knowledge base's ask settings, from kb.json on first use in the session."""

    def load() -> dict[str, Any]:
        defaults = {"template": SEED_TEMPLATE_ZH if lang == "zh" else TEMPLATE_EN, "method": "bm25",
                    "top_k": 5, "threshold": 0.0, "question": "", "cloud_question": "", "knowledge_id": ""}
        return defaults | kb_access.load_ask(kb)

    return durable(f"retrieval.ask.{kb.id}", load)


def persist_settings(kb: KnowledgeBase, settings: dict[str, Any]) -> None:
    """Write the ask settings when they changed (never raises: the page keeps them)."""
    try:
        kb_access.save_ask(kb, settings)
    except OSError:
        pass


def result_for(kb: KnowledgeBase, mode: str) -> dict[str, Any] | None:
    results = st.session_state.setdefault(RESULTS_KEY, {})
    if (kb.id, mode) not in results:
        results[(kb.id, mode)] = load_result(kb_access.work_dir(kb), mode)
    return results[(kb.id, mode)]


def keep_result(kb: KnowledgeBase, mode: str, result: dict[str, Any]) -> None:
    st.session_state.setdefault(RESULTS_KEY, {})[(kb.id, mode)] = result
    save_result(kb_access.work_dir(kb), mode, result)


def own_copy_note(kb: KnowledgeBase, lang: str) -> None:
    """Tells a teammate that what they ask of someone else's knowledge base stays theirs."""
    if not kb.can_manage:
        st.caption(t("retrieval.access.own_copy", lang, owner=shown_name(kb.ownership()[0])))


def render_ask(kb: KnowledgeBase, lang: str) -> None:
    settings = ask_settings(kb, lang)
    own_copy_note(kb, lang)
    with st.expander(t("retrieval.ask.template", lang), expanded=True):
        template_ok = render_template_editor(kb.id, settings, lang)
    status = dense_status(kb)
    _render_controls(settings, status, lang)
    bound(st.text_area, t("retrieval.ask.question", lang), settings, "question",
          f"retrieval.question.{kb.id}", height=80,
          placeholder=t("retrieval.ask.question_placeholder", lang))
    buttons = st.container(horizontal=True)
    buttons.button(t("retrieval.ask.ask", lang), key="retrieval.ask.ask", type="primary",
                   icon=":material/send:", disabled=not template_ok, on_click=st.session_state.__setitem__,
                   args=(PENDING_KEY, "ask"),
                   help=t("retrieval.ask.ask_help", lang))
    buttons.button(t("retrieval.ask.search", lang), key="retrieval.ask.search", icon=":material/search:",
                   on_click=st.session_state.__setitem__, args=(PENDING_KEY, "search"),
                   help=t("retrieval.ask.search_help", lang))
    persist_settings(kb, settings)
    problem = st.session_state.pop(PROBLEM_KEY, None)
    if problem is not None:
        show_problem(problem, lang)
    pending = st.session_state.pop(PENDING_KEY, None)
    if pending:
        _run(kb, settings, pending == "ask", lang)
        return
    result = result_for(kb, "local")
    if result:
        render_result(result, lang)
        render_answer(result, lang)


def _render_controls(settings: dict[str, Any], status: dict[str, Any], lang: str) -> None:
    method_col, k_col, threshold_col = st.columns([3, 2, 2])
    with method_col:
        if settings.get("method") not in METHODS:
            settings["method"] = "bm25"
        bound(st.radio, t("retrieval.ask.method", lang), settings, "method", "retrieval.method",
              options=list(METHODS), format_func=lambda m: t(f"retrieval.method.{m}", lang),
              horizontal=True, help=t("retrieval.ask.method_help", lang))
        if settings["method"] != "bm25" and not status["ready"]:
            st.caption(t("retrieval.ask.needs_vectors", lang))
    with k_col:
        bound(st.slider, t("retrieval.ask.top_k", lang), settings, "top_k", "retrieval.top_k", min_value=1,
              max_value=min(20, MAX_TOP_K), help=t("retrieval.ask.top_k_help", lang))
    with threshold_col:
        bound(st.slider, t("retrieval.ask.threshold", lang), settings, "threshold", "retrieval.threshold",
              min_value=0.0, max_value=1.0, step=0.05, help=t("retrieval.ask.threshold_help", lang))


def _plan(kb: KnowledgeBase, settings: dict[str, Any]) -> AskPlan:
    dense = dense_query_for(kb) if settings["method"] != "bm25" else None
    return plan_ask(kb.snapshot(), settings.get("question", ""), settings.get("template", ""),
                    settings["method"], int(settings["top_k"]), float(settings["threshold"]),
                    dense[0] if dense else None)


def _run(kb: KnowledgeBase, settings: dict[str, Any], ask: bool, lang: str) -> None:
    try:
        plan = _plan(kb, settings)
    except PlaygroundError as err:
        st.session_state[PROBLEM_KEY] = err
        st.rerun()
    result = new_result(plan)
    keep_result(kb, "local", result)
    render_result(result, lang)
    if not ask:
        return
    if not plan.hits:
        st.warning(t("retrieval.ask.no_hits_sent", lang), icon=":material/warning:")
    ledger = {"retrieval": plan.method, "top_k": plan.top_k, "threshold": plan.threshold,
              "chunks_sent": len(plan.hits)}

    def keep(answer: dict[str, Any]) -> None:
        keep_result(kb, "local", result | {"answer": answer})

    stream_answer(plan, ledger, st.container(), lang, keep)
    st.rerun()


def render_result(result: dict[str, Any], lang: str) -> None:
    """The chunks found (document, position, score) and the exact messages."""
    hits = hits_of(result)
    method = t(f"retrieval.method.{result['method']}", lang)
    st.subheader(t("retrieval.ask.found", lang, count=len(hits), method=method))
    if not hits:
        st.info(t("retrieval.ask.no_hits", lang), icon=":material/search_off:")
    for hit in hits:
        with st.container(border=True):
            st.caption(t("retrieval.chunk.header", lang, rank=hit.rank, doc=md(hit.chunk.doc_name),
                         position=hit.chunk.position + 1, start=hit.chunk.start, end=hit.chunk.end,
                         score=f"{hit.score:.3f}") + _details(hit.details, lang))
            st.text(hit.chunk.text)
    with st.expander(t("retrieval.ask.messages", lang)):
        payload: dict[str, Any] = {"messages": result.get("messages") or []}
        if result.get("tools"):
            payload["tools"] = result["tools"]
        st.code(json.dumps(payload, ensure_ascii=False, indent=2), language="json", wrap_lines=True)


def _details(details: dict[str, float], lang: str) -> str:
    if "bm25" in details:
        return " · " + t("retrieval.chunk.bm25", lang, value=f"{details['bm25']:.2f}")
    if "bm25_rank" in details:
        return " · " + t("retrieval.chunk.ranks", lang, bm25=int(details["bm25_rank"]) or "—",
                         dense=int(details["dense_rank"]) or "—")
    return ""
