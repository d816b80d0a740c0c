"""The Documents tab: chunk settings, upload with per-file results, the documents table, rebuild."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.retrieval_access import read_only_note
from components.retrieval_dense import embedding_for, render_dense_settings
from components.retrieval_feedback import md, problem_text, progress_bar, show_problem
from core.errors import PlaygroundError
from core.i18n import t
from core.retrieval.errors import retrieval_error
from core.retrieval.knowledge_base import KnowledgeBase
from core.retrieval.loaders import MAX_FILE_BYTES, SUPPORTED, LoadedDocument, load_document
from core.retrieval.splitter import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE

REPORT_KEY = "retrieval.upload_report"  # {kb id: [(file name, ok, text)]} of the last upload
UPLOADER_ROUND = "retrieval.uploader_round"  # bumped to empty the uploader after an upload
DOCS_PROBLEM = "retrieval.docs_problem"
UPLOAD_TYPES = ["txt", "md", "markdown", "pdf", "docx", "csv", "html", "htm"]


def render_documents(kb: KnowledgeBase, lang: str) -> None:
    problem = st.session_state.pop(DOCS_PROBLEM, None)
    if problem is not None:
        show_problem(problem, lang)
    if not read_only_note(kb, lang):  # a teammate's view of a shared one: read, never change
        _render_upload(kb, lang)
    _render_table(kb, lang)
    _render_chunk_settings(kb, lang)
    render_dense_settings(kb, lang)


# ---- upload -----------------------------------------------------------------------------------
def _render_upload(kb: KnowledgeBase, lang: str) -> None:
    st.subheader(t("retrieval.docs.upload_title", lang))
    size, overlap = kb.chunk_settings
    st.caption(t("retrieval.docs.upload_help", lang, kinds=", ".join(SUPPORTED),
                 limit=MAX_FILE_BYTES // 2**20, size=size, overlap=overlap))
    round_no = st.session_state.setdefault(UPLOADER_ROUND, 0)
    files = st.file_uploader(t("retrieval.docs.files", lang), type=UPLOAD_TYPES, accept_multiple_files=True,
                             key=f"retrieval.files.{kb.id}.{round_no}")
    if st.button(t("retrieval.docs.add", lang), key="retrieval.docs.add", type="primary",
                 icon=":material/upload_file:", disabled=not files):
        _add_files(kb, list(files or []), lang)
    report = st.session_state.get(REPORT_KEY, {}).get(kb.id)
    if report:
        for name, ok, text in report:
            (st.success if ok else st.error)(f"**{md(name)}**: {text}",
                                             icon=":material/check_circle:" if ok else ":material/error:")


def _add_files(kb: KnowledgeBase, files: list[Any], lang: str) -> None:
    """Read every file, then index the readable ones in one atomic change; report each file."""
    bar = progress_bar(lang)
    report: list[tuple[str, bool, str]] = []
    loaded: list[LoadedDocument] = []
    for number, upload in enumerate(files):
        bar("read", number, len(files))
        try:
            loaded.append(load_document(upload.name, upload.getvalue()))
        except PlaygroundError as err:
            report.append((upload.name, False, problem_text(err, lang)))
    if loaded:
        try:
            embedding = embedding_for(kb, lang, page="embeddings")
            added = kb.add_documents(loaded, embedding=embedding, progress=bar)
        except PlaygroundError as err:
            report.extend((doc.name, False, problem_text(err, lang)) for doc in loaded)
        except OSError as err:
            failure = retrieval_error("retrieval.error.disk", detail=str(err))
            report.extend((doc.name, False, problem_text(failure, lang)) for doc in loaded)
        else:
            for item in added:
                key = "retrieval.docs.replaced" if item.replaced else "retrieval.docs.added"
                text = t(key, lang, chunks=item.info.chunks, chars=item.info.chars)
                report.append((item.info.name, True, text))
    st.session_state.setdefault(REPORT_KEY, {})[kb.id] = report
    if any(ok for _, ok, _ in report):
        st.session_state[UPLOADER_ROUND] = st.session_state.get(UPLOADER_ROUND, 0) + 1
    st.rerun()


# ---- documents table --------------------------------------------------------------------------
def _render_table(kb: KnowledgeBase, lang: str) -> None:
    snap = kb.snapshot()
    st.subheader(t("retrieval.docs.table_title", lang, count=len(snap.documents), chunks=len(snap.chunks)))
    if not snap.documents:
        st.caption(t("retrieval.docs.none", lang))
        return
    rows = [{t("retrieval.docs.col_name", lang): d.name, t("retrieval.docs.col_kind", lang): d.kind,
             t("retrieval.docs.col_size", lang): round(d.size_bytes / 1024, 1),
             t("retrieval.docs.col_chars", lang): d.chars, t("retrieval.docs.col_chunks", lang): d.chunks,
             t("retrieval.docs.col_split", lang): f"{d.chunk_size} / {d.overlap}",
             t("retrieval.docs.col_added", lang): d.added.replace("T", " ")[:16]} for d in snap.documents]
    st.dataframe(rows, hide_index=True, width="stretch")
    names = {d.id: d.name for d in snap.documents}
    pick_col, action_col = st.columns([3, 2], vertical_alignment="bottom")
    pick_key = f"retrieval.docs.pick.{kb.id}"
    doc_id = pick_col.selectbox(t("retrieval.docs.pick", lang), list(names), format_func=names.get,
                                key=pick_key)
    # The choice is read when the button is pressed, not when it was drawn.
    if kb.can_manage:
        action_col.button(t("retrieval.docs.remove", lang), key="retrieval.docs.remove",
                          icon=":material/delete:", on_click=_remove, args=(kb, pick_key, lang))
    with st.expander(t("retrieval.docs.chunks_of", lang, name=md(names.get(doc_id, "")))):
        for chunk in [c for c in snap.chunks.values() if c.doc_id == doc_id][:200]:
            st.caption(t("retrieval.chunk.where", lang, position=chunk.position + 1, start=chunk.start,
                         end=chunk.end, chars=len(chunk.text)))
            st.text(chunk.text)


def _remove(kb: KnowledgeBase, pick_key: str, lang: str) -> None:
    doc_id = st.session_state.get(pick_key)
    if not doc_id:
        return
    try:
        kb.remove_document(doc_id, embedding=embedding_for(kb, lang, page="embeddings", required=False))
    except PlaygroundError as err:
        st.session_state[DOCS_PROBLEM] = err
    except OSError as err:
        st.session_state[DOCS_PROBLEM] = retrieval_error("retrieval.error.disk", detail=str(err))


# ---- chunk settings and rebuild ---------------------------------------------------------------
def _render_chunk_settings(kb: KnowledgeBase, lang: str) -> None:
    st.subheader(t("retrieval.docs.chunking", lang))
    size, overlap = kb.chunk_settings
    size_key, overlap_key = f"retrieval.chunk_size.{kb.id}", f"retrieval.overlap.{kb.id}"
    st.session_state.setdefault(size_key, size)
    st.session_state.setdefault(overlap_key, overlap)
    left, right = st.columns(2)
    locked = not kb.can_manage  # a teammate sees them as they are; only the owner changes them
    if locked:
        st.session_state[size_key], st.session_state[overlap_key] = size, overlap
    left.number_input(t("retrieval.docs.chunk_size", lang), MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, step=50,
                      key=size_key, help=t("retrieval.docs.chunk_size_help", lang), disabled=locked)
    right.number_input(t("retrieval.docs.overlap", lang), 0, MAX_CHUNK_SIZE // 2, step=10, key=overlap_key,
                       help=t("retrieval.docs.overlap_help", lang), disabled=locked)
    if locked:
        return
    wanted = (int(st.session_state[size_key]), int(st.session_state[overlap_key]))
    if wanted != (size, overlap):
        try:
            kb.set_chunk_settings(*wanted)
        except PlaygroundError as err:
            show_problem(err, lang)  # the typed values stay in the boxes to be corrected
            return
    stale = kb.stale_documents()
    if stale:
        st.warning(t("retrieval.docs.stale", lang, count=len(stale), size=wanted[0], overlap=wanted[1]),
                   icon=":material/sync_problem:")
    if st.button(t("retrieval.docs.rebuild", lang), key="retrieval.docs.rebuild", icon=":material/sync:",
                 disabled=kb.snapshot().empty, help=t("retrieval.docs.rebuild_help", lang)):
        try:
            kb.rebuild(embedding=embedding_for(kb, lang, page="embeddings"), progress=progress_bar(lang))
        except PlaygroundError as err:
            st.session_state[DOCS_PROBLEM] = err
        except OSError as err:
            st.session_state[DOCS_PROBLEM] = retrieval_error("retrieval.error.disk", detail=str(err))
        st.rerun()
