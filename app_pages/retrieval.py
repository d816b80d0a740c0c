"""Retrieval page: knowledge bases from your documents, an editable prompt_template, answers with
their sources, Zhipu's cloud retrieval tool, and an evaluation of each search method."""

from __future__ import annotations

import streamlit as st

from components.language import current_language
from components.retrieval_ask import render_ask
from components.retrieval_cloud import render_cloud
from components.retrieval_docs import render_documents
from components.retrieval_eval import render_evaluation
from components.retrieval_kb import render_kb_picker
from core.i18n import t

TABS = (("documents", render_documents), ("ask", render_ask), ("cloud", render_cloud),
        ("evaluate", render_evaluation))

lang = current_language()
st.title(t("retrieval.title", lang))
st.caption(t("retrieval.subtitle", lang))
kb = render_kb_picker(lang)
if kb is not None:
    # Keyed and rerun on switch: the open tab stays open after the page reruns (an upload, an
    # answer), and only its content runs.
    tabs = st.tabs([t(f"retrieval.tab.{name}", lang) for name, _ in TABS], key="retrieval.tab",
                   on_change="rerun")
    for tab, (_, render) in zip(tabs, TABS, strict=True):
        if tab.open is not False:
            with tab:
                render(kb, lang)
