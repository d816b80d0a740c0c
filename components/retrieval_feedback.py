"""What the Retrieval page tells the user: problems in plain words, and progress bars for long work."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from components.backend_picker import load_settings
from components.error_box import show_error
from components.identity import owner_id
from core.errors import PlaygroundError
from core.i18n import t
from core.retrieval.errors import error_key
from core.retrieval.knowledge_base import KnowledgeBaseStore, Progress

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: Any) -> str:
    """Text shown as it is inside Markdown (a file or knowledge base name, a placeholder written by
    the user): every Markdown, LaTeX and Streamlit directive character backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _shown(params: dict[str, Any]) -> dict[str, Any]:
    return {k: md(v) if isinstance(v, str) else v for k, v in params.items() if k != "key"}


def kb_store() -> KnowledgeBaseStore:
    """The knowledge bases this session's user may see (all of them without sign-in)."""
    return KnowledgeBaseStore(load_settings().data_dir, viewer=owner_id())


def show_problem(err: PlaygroundError, lang: str) -> None:
    """A retrieval problem as its fix (with a library's words folded away); any other error as the
    chat page shows it (title, fix, provider code)."""
    key = error_key(err)
    if key is None or not key.startswith("retrieval."):
        show_error(err, lang)
        return
    st.error(t(key, lang, **_shown(err.params)), icon=":material/error:")
    if err.detail:
        with st.expander(t("error.details", lang)):
            st.code(err.detail, language=None, wrap_lines=True)


def problem_text(err: Exception, lang: str) -> str:
    """One line for a table of results: the fix for a retrieval problem, else the error's kind."""
    if isinstance(err, PlaygroundError):
        key = error_key(err)
        if key is not None:
            return t(key, lang, **_shown(err.params))
        return f"{t(f'error.{err.kind.value}.title', lang)}: {t(err.message_key, lang, **err.params)}"
    return f"{type(err).__name__}: {err}"


def progress_bar(lang: str, slot: Any | None = None) -> Progress:
    """A progress bar that follows a knowledge base's (stage, done, total) reports."""
    bar = (slot or st).progress(0.0, text=t("retrieval.progress.start", lang))

    def report(stage: str, done: int, total: int) -> None:
        fraction = min(1.0, done / total) if total else 1.0
        bar.progress(fraction, text=t(f"retrieval.progress.{stage}", lang, done=done, total=total))

    return report
