"""The Evaluate tab: an editable question set saved with the knowledge base, scored per method
as hit rate@k and MRR, with each question's rank so users see which method and chunk size work.
A teammate on someone else's shared knowledge base starts from its owner's set and keeps their own.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.retrieval_ask import own_copy_note
from components.retrieval_dense import dense_query_for, dense_status
from components.retrieval_feedback import progress_bar, show_problem
from core.errors import PlaygroundError
from core.i18n import t
from core.retrieval import kb_access
from core.retrieval.evaluation import QUESTIONS_FILE, EvalQuestion, evaluate, load_questions, save_questions
from core.retrieval.knowledge_base import KnowledgeBase
from core.retrieval.search import METHODS
from core.retrieval.storage import read_json, write_json_atomic

LAST_EVAL = "last_eval.json"
PROBLEM_KEY = "retrieval.eval_problem"


def _editor_rows(kb: KnowledgeBase) -> list[dict[str, str]]:
    folder = kb_access.work_file(kb, QUESTIONS_FILE, fallback=True).parent
    return [{"question": q.question, "expected": q.expected} for q in load_questions(folder)]


def render_evaluation(kb: KnowledgeBase, lang: str) -> None:
    st.caption(t("retrieval.eval.help", lang))
    own_copy_note(kb, lang)
    rows = _editor_rows(kb)
    edited = st.data_editor(
        rows or [{"question": "", "expected": ""}], num_rows="dynamic", width="stretch",
        key=f"retrieval.eval.editor.{kb.id}",
        column_config={
            "question": st.column_config.TextColumn(t("retrieval.eval.col_question", lang), width="large"),
            "expected": st.column_config.TextColumn(t("retrieval.eval.col_expected", lang), width="large",
                                                    help=t("retrieval.eval.expected_help", lang))})
    records = _as_records(edited)
    edited_rows = [EvalQuestion(str(r.get("question") or ""), str(r.get("expected") or ""))
                   for r in (records if records is not None else rows)]
    wanted = [{"question": q.question.strip(), "expected": q.expected.strip()} for q in edited_rows
              if q.question.strip() and q.expected.strip()]
    if records is not None and wanted != rows:
        # Saved as typed: a refresh or restart keeps the set (a teammate's, in their own folder).
        save_questions(kb_access.work_dir(kb), edited_rows)
    st.caption(t("retrieval.eval.count", lang, count=len(wanted)))
    ready = dense_status(kb)["ready"]
    options = [m for m in METHODS if m == "bm25" or ready]
    k_col, methods_col = st.columns([1, 3])
    k = k_col.slider(t("retrieval.eval.k", lang), 1, 10, 5, key="retrieval.eval.k")
    methods = methods_col.multiselect(t("retrieval.eval.methods", lang), options, default=options,
                                      format_func=lambda m: t(f"retrieval.method.{m}", lang),
                                      key=f"retrieval.eval.methods.{kb.id}")
    if not ready:
        st.caption(t("retrieval.eval.dense_hint", lang))
    problem = st.session_state.pop(PROBLEM_KEY, None)
    if problem is not None:
        show_problem(problem, lang)
    if st.button(t("retrieval.eval.run", lang), key="retrieval.eval.run", type="primary",
                 icon=":material/rule:", disabled=not wanted or not methods):
        _run(kb, edited_rows, methods, k, lang)
    _render_scores(read_json(kb_access.work_dir(kb) / LAST_EVAL), lang)


def _as_records(edited: Any) -> list[dict[str, Any]] | None:
    """The editor's rows; None when its value is not understood (then nothing is saved over the set)."""
    if isinstance(edited, list):
        return [r for r in edited if isinstance(r, dict)]
    to_dict = getattr(edited, "to_dict", None)  # a DataFrame
    return to_dict("records") if callable(to_dict) else None


def _run(kb: KnowledgeBase, rows: list[EvalQuestion], methods: list[str], k: int, lang: str) -> None:
    dense = dense_query_for(kb) if any(m != "bm25" for m in methods) else None
    try:
        scores = evaluate(kb.snapshot(), rows, methods, k, dense=dense[0] if dense else None,
                          embed_questions=dense[1] if dense else None, progress=progress_bar(lang))
    except PlaygroundError as err:
        st.session_state[PROBLEM_KEY] = err
        st.rerun()
    questions = [r.question for r in rows if r.question.strip() and r.expected.strip()]
    snap = kb.snapshot()
    write_json_atomic(kb_access.work_dir(kb) / LAST_EVAL, {
        "k": k, "questions": questions, "chunks": len(snap.chunks),
        "chunk_settings": sorted({f"{d.chunk_size} / {d.overlap}" for d in snap.documents}),
        "scores": {m: {"hit_rate": s.hit_rate, "mrr": s.mrr, "ranks": s.ranks} for m, s in scores.items()}})
    st.rerun()


def _render_scores(last: Any, lang: str) -> None:
    if not isinstance(last, dict) or not last.get("scores"):
        return
    k = last.get("k", 5)
    st.subheader(t("retrieval.eval.results", lang, k=k, chunks=last.get("chunks", 0),
                   settings=", ".join(last.get("chunk_settings") or [])))
    table = [{t("retrieval.eval.col_method", lang): t(f"retrieval.method.{m}", lang),
              t("retrieval.eval.col_hit_rate", lang, k=k): f"{s['hit_rate']:.0%}",
              t("retrieval.eval.col_mrr", lang): round(s["mrr"], 3)} for m, s in last["scores"].items()]
    st.dataframe(table, hide_index=True)
    with st.expander(t("retrieval.eval.per_question", lang)):
        per_question = []
        for number, question in enumerate(last.get("questions") or []):
            row = {t("retrieval.eval.col_question", lang): question}
            for method, score in last["scores"].items():
                ranks = score.get("ranks") or []
                rank = ranks[number] if number < len(ranks) else None
                row[t(f"retrieval.method.{method}", lang)] = str(rank) if rank else "—"
            per_question.append(row)
        st.dataframe(per_question, hide_index=True, width="stretch")
