"""The Cloud tab: Zhipu's own retrieval tool (a knowledge_id and the Ask tab's template sent in
`tools`), and uploading documents to that Zhipu knowledge base."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.backend_picker import endpoint_connection
from components.retrieval_access import read_only_note
from components.retrieval_answer import render_answer, stream_answer, zhipu_tools_supported
from components.retrieval_ask import (
    ask_settings,
    keep_result,
    own_copy_note,
    persist_settings,
    render_result,
    result_for,
)
from components.retrieval_feedback import md, problem_text, show_problem
from components.sidebar import current_selection
from components.state import bound
from core.errors import PlaygroundError
from core.i18n import t
from core.retrieval.ask import plan_cloud_ask
from core.retrieval.history import new_result
from core.retrieval.knowledge_base import KnowledgeBase
from core.retrieval.template import check_template

PROBLEM_KEY = "retrieval.cloud_problem"
PENDING_KEY = "retrieval.cloud_pending"
UPLOAD_REPORT = "retrieval.cloud_uploads"
UPLOAD_ROUND = "retrieval.cloud_upload_round"


def render_cloud(kb: KnowledgeBase, lang: str) -> None:
    settings = ask_settings(kb, lang)
    st.caption(t("retrieval.cloud.help", lang))
    own_copy_note(kb, lang)
    bound(st.text_input, t("retrieval.cloud.knowledge_id", lang), settings, "knowledge_id",
          f"retrieval.knowledge_id.{kb.id}", help=t("retrieval.cloud.knowledge_id_help", lang))
    template_ok = check_template(settings.get("template", "")).ok
    st.caption(t("retrieval.cloud.template_note" if template_ok else "retrieval.cloud.template_bad", lang))
    sel, _ = current_selection()
    supported = zhipu_tools_supported(sel)
    if not supported:
        st.warning(t("retrieval.cloud.needs_zhipu", lang), icon=":material/swap_horiz:")
    bound(st.text_area, t("retrieval.ask.question", lang), settings, "cloud_question",
          f"retrieval.cloud_question.{kb.id}", height=80,
          placeholder=t("retrieval.ask.question_placeholder", lang))
    st.button(t("retrieval.cloud.ask", lang), key="retrieval.cloud.ask", type="primary",
              icon=":material/cloud:", disabled=not (supported and template_ok),
              on_click=st.session_state.__setitem__, args=(PENDING_KEY, True))
    persist_settings(kb, settings)
    problem = st.session_state.pop(PROBLEM_KEY, None)
    if problem is not None:
        show_problem(problem, lang)
    if st.session_state.pop(PENDING_KEY, None):
        _run(kb, settings, lang)
    else:
        result = result_for(kb, "cloud")
        if result:
            render_result(result, lang)
            render_answer(result, lang)
    st.divider()
    if not read_only_note(kb, lang, "retrieval.access.cloud_read_only"):
        _render_upload(settings, lang)


def _run(kb: KnowledgeBase, settings: dict[str, Any], lang: str) -> None:
    try:
        plan = plan_cloud_ask(settings.get("cloud_question", ""), settings.get("knowledge_id", ""),
                              settings.get("template", ""))
    except PlaygroundError as err:
        st.session_state[PROBLEM_KEY] = err
        st.rerun()
    result = new_result(plan)
    keep_result(kb, "cloud", result)
    ledger = {"retrieval": "cloud", "knowledge_id": plan.tools[0]["retrieval"]["knowledge_id"]}

    def keep(answer: dict[str, Any]) -> None:
        keep_result(kb, "cloud", result | {"answer": answer})

    stream_answer(plan, ledger, st.container(), lang, keep)
    st.rerun()


def _render_upload(settings: dict[str, Any], lang: str) -> None:
    st.subheader(t("retrieval.cloud.upload_title", lang))
    st.caption(t("retrieval.cloud.upload_help", lang))
    round_no = st.session_state.setdefault(UPLOAD_ROUND, 0)
    files = st.file_uploader(t("retrieval.docs.files", lang), accept_multiple_files=True,
                             key=f"retrieval.cloud_files.{round_no}",
                             type=["txt", "md", "pdf", "docx", "doc", "csv", "xlsx", "pptx", "html"])
    knowledge_id = (settings.get("knowledge_id") or "").strip()
    if st.button(t("retrieval.cloud.upload", lang), key="retrieval.cloud.upload",
                 icon=":material/cloud_upload:", disabled=not files or not knowledge_id):
        from backends.zhipu_knowledge import upload_to_knowledge_base

        conn = endpoint_connection("zhipu", "zhipu")[0]
        report = []
        bar = st.progress(0.0)
        for number, upload in enumerate(files or []):
            bar.progress(number / len(files or [1]), text=upload.name)
            try:
                found = upload_to_knowledge_base(conn, knowledge_id, upload.name, upload.getvalue())
                report.append((upload.name, True, t("retrieval.cloud.uploaded", lang, id=md(found.id),
                                                     status=md(found.status or "—"))))
            except PlaygroundError as err:
                report.append((upload.name, False, problem_text(err, lang)))
        st.session_state[UPLOAD_REPORT] = report
        if any(ok for _, ok, _ in report):
            st.session_state[UPLOAD_ROUND] = round_no + 1
        st.rerun()
    for name, ok, text in st.session_state.get(UPLOAD_REPORT) or []:
        (st.success if ok else st.error)(f"**{md(name)}**: {text}")
